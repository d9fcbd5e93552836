//! A VM's `vm_snapshots` rows, rewritten from Proxmox's list by the snapshot job and removed
//! with the VM (or its disks).

use crate::Result;
use crate::db::entity::vm_snapshot;
use crate::inventory;
use crate::pve::SnapshotEntry;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use std::collections::{HashMap, HashSet};

/// Replaces the VM's rows with Proxmox's `list` (its `current` pseudo entry names the
/// snapshot the present state descends from). Who took a snapshot is kept from the old rows;
/// `taken` (name, user) records a snapshot this job just took. Bumps the VM's users' cards.
pub(crate) async fn replace(
    db: &impl ConnectionTrait,
    cluster_id: i32,
    vmid: i32,
    list: &[SnapshotEntry],
    taken: Option<(&str, i32)>,
) -> Result<()> {
    let old: HashMap<String, Option<i32>> = rows(cluster_id, vmid)
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.name, r.taken_by))
        .collect();
    let here = list
        .iter()
        .find(|s| s.name == "current")
        .and_then(|s| s.parent.clone());
    forget(db, cluster_id, vmid).await?;
    let new: Vec<vm_snapshot::ActiveModel> = list
        .iter()
        .filter(|s| s.name != "current")
        .map(|s| {
            let by = match taken {
                Some((name, user)) if name == s.name => Some(user),
                _ => old.get(&s.name).copied().flatten(),
            };
            vm_snapshot::ActiveModel {
                cluster_id: Set(cluster_id),
                vmid: Set(vmid),
                name: Set(s.name.clone()),
                description: Set(s.description.trim().to_string()),
                taken_at: Set(s.snaptime as i64),
                vmstate: Set(s.vmstate),
                parent: Set(s.parent.clone()),
                current: Set(here.as_deref() == Some(s.name.as_str())),
                taken_by: Set(by),
                ..Default::default()
            }
        })
        .collect();
    if !new.is_empty() {
        vm_snapshot::Entity::insert_many(new)
            .exec_without_returning(db)
            .await?;
    }
    inventory::bump_for_vms(db, cluster_id, &HashSet::from([vmid])).await
}

/// Drops the VM's rows (the VM or its disks are gone).
pub(crate) async fn forget(db: &impl ConnectionTrait, cluster_id: i32, vmid: i32) -> Result<()> {
    vm_snapshot::Entity::delete_many()
        .filter(vm_snapshot::Column::ClusterId.eq(cluster_id))
        .filter(vm_snapshot::Column::Vmid.eq(vmid))
        .exec(db)
        .await?;
    Ok(())
}

pub(super) fn rows(cluster_id: i32, vmid: i32) -> sea_orm::Select<vm_snapshot::Entity> {
    vm_snapshot::Entity::find()
        .filter(vm_snapshot::Column::ClusterId.eq(cluster_id))
        .filter(vm_snapshot::Column::Vmid.eq(vmid))
}
