//! The full sync's look at the nodes themselves, for the admin's node view (`crate::capacity`):
//! each node's state and figures from the `GET /nodes` the full sync makes anyway, the
//! storages' use from one `GET /cluster/resources?type=storage`, and each online node's
//! Proxmox version from `GET /nodes/{node}/status` and its bridges (`GET …/network`, for the
//! VM builder), read again only after an hour, and with them the cluster's groups
//! (`GET /access/groups`, for the cluster form's pickers). So a full sync costs one call
//! more, plus at most two per node and one more an hour.
//!
//! A failed storage or version call leaves the rows it would have written as they were (the
//! page shows when they were read); only the node rows, whose figures came with the full
//! sync's own call, are always rewritten.

use crate::Result;
use crate::db::entity::{cluster_group, cluster_node, cluster_storage};
use crate::pve::{Client, NodeInfo};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

/// A node's version is read again after this long.
pub const VERSION_EVERY_SECS: i64 = 3600;

pub(super) async fn record(
    db: &DatabaseConnection,
    cluster_id: i32,
    client: &Client,
    nodes: &[NodeInfo],
    now: i64,
    calls: &AtomicI64,
) -> Result<()> {
    let old: HashMap<String, cluster_node::Model> = cluster_node::Entity::find()
        .filter(cluster_node::Column::ClusterId.eq(cluster_id))
        .all(db)
        .await?
        .into_iter()
        .map(|n| (n.node.clone(), n))
        .collect();
    let mut rows = Vec::with_capacity(nodes.len());
    let mut hourly = false;
    for n in nodes {
        let before = old.get(&n.node);
        let mut version = before.and_then(|b| b.pve_version.clone());
        let mut read_at = before.and_then(|b| b.version_read_at);
        let mut bridges = before.map(|b| b.bridges.clone()).unwrap_or_default();
        let stale = read_at.is_none_or(|t| now - t >= VERSION_EVERY_SECS);
        if n.online && stale {
            hourly = true;
            calls.fetch_add(1, Ordering::Relaxed);
            match client.node_status(&n.node).await {
                Ok(status) => {
                    version = Some(status.version());
                    read_at = Some(now);
                }
                Err(e) => tracing::warn!(cluster_id, node = %n.node, error = %e, "node status"),
            }
            calls.fetch_add(1, Ordering::Relaxed);
            match client.bridges(&n.node).await {
                Ok(list) => bridges = list.join(","),
                Err(e) => tracing::warn!(cluster_id, node = %n.node, error = %e, "node bridges"),
            }
        }
        rows.push(cluster_node::ActiveModel {
            cluster_id: Set(cluster_id),
            node: Set(n.node.clone()),
            online: Set(n.online),
            cpu: Set(if n.cpu.is_finite() {
                n.cpu.clamp(0.0, 1.0)
            } else {
                0.0
            }),
            maxcpu: Set(n.maxcpu as i32),
            mem: Set(n.mem.min(i64::MAX as u64) as i64),
            maxmem: Set(n.maxmem.min(i64::MAX as u64) as i64),
            uptime: Set(n.uptime.min(i64::MAX as u64) as i64),
            pve_version: Set(version),
            version_read_at: Set(read_at),
            bridges: Set(bridges),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    calls.fetch_add(1, Ordering::Relaxed);
    let storages = match client.storage_resources().await {
        Ok(list) => Some(list),
        Err(e) => {
            tracing::warn!(cluster_id, error = %e, "storage resources");
            None
        }
    };
    let groups = if hourly {
        calls.fetch_add(1, Ordering::Relaxed);
        match client.groups().await {
            Ok(list) => Some(list),
            Err(e) => {
                // A token without Sys.Audit on /access/groups: the fields stay free text.
                tracing::info!(cluster_id, error = %e, "groups");
                None
            }
        }
    } else {
        None
    };
    let txn = db.begin().await?;
    if let Some(list) = groups {
        cluster_group::Entity::delete_many()
            .filter(cluster_group::Column::ClusterId.eq(cluster_id))
            .exec(&txn)
            .await?;
        let rows: Vec<cluster_group::ActiveModel> = list
            .into_iter()
            .map(|(groupid, comment)| cluster_group::ActiveModel {
                cluster_id: Set(cluster_id),
                groupid: Set(groupid),
                comment: Set(comment),
                ..Default::default()
            })
            .collect();
        for chunk in rows.chunks(500) {
            cluster_group::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
    }
    // Nodes that left the cluster go; the others are rewritten.
    cluster_node::Entity::delete_many()
        .filter(cluster_node::Column::ClusterId.eq(cluster_id))
        .exec(&txn)
        .await?;
    if !rows.is_empty() {
        cluster_node::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    if let Some(list) = storages {
        cluster_storage::Entity::delete_many()
            .filter(cluster_storage::Column::ClusterId.eq(cluster_id))
            .exec(&txn)
            .await?;
        let rows: Vec<cluster_storage::ActiveModel> = list
            .into_iter()
            .map(|s| cluster_storage::ActiveModel {
                cluster_id: Set(cluster_id),
                active: Set(s.status == "available"),
                node: Set(s.node),
                storage: Set(s.storage),
                plugin: Set(s.plugintype),
                content: Set(s.content),
                shared: Set(s.shared),
                used: Set(s.disk.min(i64::MAX as u64) as i64),
                total: Set(s.maxdisk.min(i64::MAX as u64) as i64),
                ..Default::default()
            })
            .collect();
        for chunk in rows.chunks(500) {
            cluster_storage::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}
