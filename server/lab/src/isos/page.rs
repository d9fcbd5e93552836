//! The library page: from the database only (the full sync keeps it).

use crate::db::entity::{cluster_iso, cluster_storage, iso_transfer, sync_status, user};
use crate::model::{IsoPage, IsoTarget, IsoTransferView, IsoView};
use crate::{Result, Services, clock::now};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{BTreeSet, HashMap};

/// Ended transfers shown below the running ones.
const RECENT_TRANSFERS: u64 = 20;

pub async fn page(services: &Services, user: &user::Model) -> Result<IsoPage> {
    let clusters = crate::access::buildable_clusters(services, user).await?;
    let ids: Vec<i32> = clusters.iter().map(|c| c.id).collect();
    let names: HashMap<i32, String> = clusters.iter().map(|c| (c.id, c.name.clone())).collect();
    let rows = cluster_iso::Entity::find()
        .filter(cluster_iso::Column::ClusterId.is_in(ids.clone()))
        .all(&services.db)
        .await?;
    let mut isos: Vec<IsoView> = rows
        .into_iter()
        .map(|r| IsoView {
            cluster: names.get(&r.cluster_id).cloned().unwrap_or_default(),
            cluster_id: r.cluster_id,
            name: crate::model::iso_file_name(&r.volid).to_string(),
            node: (!r.shared).then_some(r.node),
            storage: r.storage,
            volid: r.volid,
            size: r.size,
            ctime: r.ctime,
        })
        .collect();
    isos.sort_by(|a, b| {
        (a.name.to_lowercase(), &a.cluster, &a.storage, &a.node).cmp(&(
            b.name.to_lowercase(),
            &b.cluster,
            &b.storage,
            &b.node,
        ))
    });
    let storages = cluster_storage::Entity::find()
        .filter(cluster_storage::Column::ClusterId.is_in(ids.clone()))
        .filter(cluster_storage::Column::Active.eq(true))
        .all(&services.db)
        .await?;
    // A shared storage is one target; a local one is one per node.
    let targets: BTreeSet<(String, String, i32, String)> = storages
        .into_iter()
        .filter(|s| s.holds("iso"))
        .map(|s| {
            let cluster = names.get(&s.cluster_id).cloned().unwrap_or_default();
            let node = if s.shared { String::new() } else { s.node };
            (cluster, s.storage, s.cluster_id, node)
        })
        .collect();
    let targets = targets
        .into_iter()
        .map(|(cluster, storage, cluster_id, node)| IsoTarget {
            label: if node.is_empty() {
                format!("{cluster} · {storage} (shared)")
            } else {
                format!("{cluster} · {storage} on {node}")
            },
            value: format!("{cluster_id}/{node}/{storage}"),
        })
        .collect();
    let running = iso_transfer::Entity::find()
        .filter(iso_transfer::Column::ClusterId.is_in(ids.clone()))
        .filter(iso_transfer::Column::State.eq(crate::model::TransferState::Running))
        .order_by_desc(iso_transfer::Column::Id)
        .all(&services.db)
        .await?;
    let ended = iso_transfer::Entity::find()
        .filter(iso_transfer::Column::ClusterId.is_in(ids.clone()))
        .filter(iso_transfer::Column::State.ne(crate::model::TransferState::Running))
        .order_by_desc(iso_transfer::Column::Id)
        .limit(RECENT_TRANSFERS)
        .all(&services.db)
        .await?;
    let transfers = running
        .into_iter()
        .chain(ended)
        .map(|t| IsoTransferView {
            id: t.id,
            cluster: names.get(&t.cluster_id).cloned().unwrap_or_default(),
            node: t.node,
            storage: t.storage,
            filename: t.filename,
            url: t.url,
            state: t.state,
            percent: t.percent,
            message: t.message,
            created_at: t.created_at,
            finished_at: t.finished_at,
        })
        .collect();
    let read = sync_status::Entity::find()
        .filter(sync_status::Column::ClusterId.is_in(ids.clone()))
        .all(&services.db)
        .await?;
    let read_at = if read.len() == ids.len() {
        read.iter().map(|s| s.isos_read_at).min().flatten()
    } else {
        None
    };
    Ok(IsoPage {
        isos,
        targets,
        transfers,
        read_at,
        now: now(),
    })
}
