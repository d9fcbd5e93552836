//! The full sync's read of the ISO lists, for the ISO library (`crate::isos`): one
//! `GET …/storage/{s}/content?content=iso` per ISO storage, a shared one through one online
//! node, a node-local one on each online node. Read again when ten minutes old, or at once
//! when `sync_status.isos_read_at` was cleared (after a download or delete, or "Refresh").
//!
//! A list that cannot be read leaves that storage's rows as they were; a storage the cluster
//! no longer has loses its rows. It also looks once at running downloads
//! (`isos::check_running`), so one whose follower died with its portal still ends.

use crate::Result;
use crate::db::entity::{cluster_iso, cluster_storage, sync_status};
use crate::pve::Client;
use crate::{Services, isos};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};

/// The lists are read again after this long.
pub const ISOS_EVERY_SECS: i64 = 600;

pub(super) async fn record(
    services: &Services,
    cluster_id: i32,
    client: &Client,
    online: &HashSet<String>,
    now: i64,
    calls: &AtomicI64,
) -> Result<()> {
    if let Err(e) = isos::check_running(services, cluster_id).await {
        tracing::warn!(cluster_id, error = %e, "ISO downloads");
    }
    let db = &services.db;
    let read_at = sync_status::Entity::find_by_id(cluster_id)
        .one(db)
        .await?
        .and_then(|s| s.isos_read_at);
    if read_at.is_some_and(|t| now - t < ISOS_EVERY_SECS) {
        return Ok(());
    }
    let storages = cluster_storage::Entity::find()
        .filter(cluster_storage::Column::ClusterId.eq(cluster_id))
        .all(db)
        .await?;
    let known: HashSet<String> = storages.iter().map(|s| s.storage.clone()).collect();
    // (storage, node) → shared; a shared storage once, through its first online node.
    let mut lists: BTreeMap<(String, String), bool> = BTreeMap::new();
    for s in storages
        .iter()
        .filter(|s| s.active && online.contains(&s.node) && s.holds("iso"))
    {
        let shared_seen = s.shared && lists.keys().any(|(storage, _)| *storage == s.storage);
        if !shared_seen {
            lists.insert((s.storage.clone(), s.node.clone()), s.shared);
        }
    }
    let mut read = Vec::new();
    for ((storage, node), shared) in lists {
        calls.fetch_add(1, Ordering::Relaxed);
        match client.isos(&node, &storage).await {
            Ok(entries) => read.push((storage, node, shared, entries)),
            Err(e) => tracing::warn!(cluster_id, %storage, %node, error = %e, "ISO list"),
        }
    }
    let txn = db.begin().await?;
    cluster_iso::Entity::delete_many()
        .filter(cluster_iso::Column::ClusterId.eq(cluster_id))
        .filter(cluster_iso::Column::Storage.is_not_in(known))
        .exec(&txn)
        .await?;
    for (storage, node, shared, entries) in read {
        let mut old = cluster_iso::Entity::delete_many()
            .filter(cluster_iso::Column::ClusterId.eq(cluster_id))
            .filter(cluster_iso::Column::Storage.eq(&storage));
        if !shared {
            old = old.filter(cluster_iso::Column::Node.eq(&node));
        }
        old.exec(&txn).await?;
        let rows: Vec<cluster_iso::ActiveModel> = entries
            .into_iter()
            // Only this storage's ISOs (`content=iso` filters already; be sure).
            .filter(|e| e.volid.starts_with(&format!("{storage}:iso/")))
            .map(|e| cluster_iso::ActiveModel {
                cluster_id: Set(cluster_id),
                node: Set(node.clone()),
                storage: Set(storage.clone()),
                shared: Set(shared),
                volid: Set(e.volid),
                size: Set(e.size.min(i64::MAX as u64) as i64),
                ctime: Set(e.ctime.min(i64::MAX as u64) as i64),
                ..Default::default()
            })
            .collect();
        for chunk in rows.chunks(500) {
            cluster_iso::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
    }
    sync_status::Entity::update_many()
        .col_expr(sync_status::Column::IsosReadAt, Expr::value(Some(now)))
        .filter(sync_status::Column::ClusterId.eq(cluster_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
