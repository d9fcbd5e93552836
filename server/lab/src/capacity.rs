//! The admin's Nodes page (capacity: each node's CPU, memory, storage and VMs), from the
//! database only: the rows the full sync writes
//! (`sync::nodes`) and the VM counts of the inventory. Admins only. (Not `node`, which runs
//! commands on nodes.)

use crate::db::entity::{cluster, cluster_node, cluster_storage, user, vm};
use crate::model::{ClusterNodes, NodeView, NodesPage, Role, StorageUse};
use crate::{Error, Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{BTreeMap, HashMap};

pub async fn overview(services: &Services, user: &user::Model) -> Result<NodesPage> {
    if crate::auth::role_of(user) != Role::Admin {
        return Err(Error::Forbidden);
    }
    let clusters = cluster::Entity::find()
        .order_by_asc(cluster::Column::Name)
        .all(&services.db)
        .await?;
    let nodes = cluster_node::Entity::find()
        .order_by_asc(cluster_node::Column::Node)
        .all(&services.db)
        .await?;
    let storages = cluster_storage::Entity::find()
        .order_by_asc(cluster_storage::Column::Storage)
        .all(&services.db)
        .await?;
    // (cluster, node) → (guests, running), templates not counted.
    let mut counts: HashMap<(i32, String), (i64, i64)> = HashMap::new();
    let rows: Vec<(i32, String, String, i64)> = vm::Entity::find()
        .select_only()
        .column(vm::Column::ClusterId)
        .column(vm::Column::Node)
        .column(vm::Column::Status)
        .column_as(vm::Column::Id.count(), "n")
        .filter(vm::Column::Template.eq(false))
        .group_by(vm::Column::ClusterId)
        .group_by(vm::Column::Node)
        .group_by(vm::Column::Status)
        .into_tuple()
        .all(&services.db)
        .await?;
    for (cluster_id, node, status, n) in rows {
        let c = counts.entry((cluster_id, node)).or_default();
        c.0 += n;
        if status == "running" {
            c.1 += n;
        }
    }
    let mut out = Vec::with_capacity(clusters.len());
    for c in clusters {
        let mut shared: BTreeMap<String, StorageUse> = BTreeMap::new();
        let mut local: HashMap<String, Vec<StorageUse>> = HashMap::new();
        for s in storages.iter().filter(|s| s.cluster_id == c.id) {
            let view = StorageUse {
                storage: s.storage.clone(),
                plugin: s.plugin.clone(),
                content: s.content.clone(),
                shared: s.shared,
                active: s.active,
                used: s.used,
                total: s.total,
            };
            if s.shared {
                // Once per cluster, with the figures of a node where it is active.
                let keep = shared.get(&s.storage).is_some_and(|old| old.active);
                if !keep {
                    shared.insert(s.storage.clone(), view);
                }
            } else {
                local.entry(s.node.clone()).or_default().push(view);
            }
        }
        let mine: Vec<&cluster_node::Model> =
            nodes.iter().filter(|n| n.cluster_id == c.id).collect();
        let read_at = mine.iter().map(|n| n.updated_at).max();
        out.push(ClusterNodes {
            cluster_id: c.id,
            cluster: c.name.clone(),
            read_at,
            shared: shared.into_values().collect(),
            nodes: mine
                .into_iter()
                .map(|n| {
                    let (vms, running) = counts
                        .get(&(c.id, n.node.clone()))
                        .copied()
                        .unwrap_or_default();
                    NodeView {
                        node: n.node.clone(),
                        online: n.online,
                        cpu: n.cpu,
                        maxcpu: n.maxcpu,
                        mem: n.mem,
                        maxmem: n.maxmem,
                        uptime: n.uptime,
                        version: n.pve_version.clone(),
                        vms,
                        running,
                        storages: local.remove(&n.node).unwrap_or_default(),
                    }
                })
                .collect(),
        });
    }
    Ok(NodesPage {
        clusters: out,
        now: services.clock.now(),
    })
}
