//! Asking for a snapshot change: check who asks and the input, then queue one `snapshot`
//! job for the VM. One job per VM at a time, so a double click queues one.

use super::store::rows;
use super::who::{Viewer, viewer};
use crate::access::managed_class;
use crate::db::entity::{class, job, user, vm_snapshot};
use crate::jobs::queue_snapshot;
use crate::model::{
    JobKind, JobState, SnapshotOp, SnapshotOrder, check_snapshot_description, check_snapshot_name,
    check_student_snapshots,
};
use crate::{Error, Result, Services, inventory};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

/// Takes snapshot `name` of the VM; `vmstate` saves its RAM too (a running QEMU VM only).
pub async fn take(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    name: &str,
    description: &str,
    vmstate: bool,
) -> Result<i32> {
    let v = viewer(services, user, cluster_id, vmid).await?;
    v.ensure_may_change()?;
    v.ensure_ready()?;
    let name = check_snapshot_name(name).map_err(Error::Invalid)?;
    let description = check_snapshot_description(description).map_err(Error::Invalid)?;
    let have = rows(cluster_id, vmid).all(&services.db).await?;
    if have.iter().any(|s| s.name.eq_ignore_ascii_case(&name)) {
        return Err(Error::Conflict(format!(
            "This VM already has a snapshot named {name}."
        )));
    }
    let limit = v.class.student_snapshots as usize;
    if !v.manager && have.len() >= limit {
        return Err(Error::Conflict(format!(
            "You have {} of {limit} snapshots: delete one to take another.",
            have.len()
        )));
    }
    if vmstate && v.vm.kind == "lxc" {
        return Err(Error::Invalid(
            "A container's memory cannot be saved with a snapshot.".into(),
        ));
    }
    let order = SnapshotOrder {
        op: SnapshotOp::Take,
        name,
        description,
        // Proxmox saves RAM only of a running VM (qemu-server `snapshot_prepare`).
        vmstate: vmstate && v.vm.status == "running",
    };
    queue(services, user, &v, order).await
}

pub async fn rollback(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    name: &str,
) -> Result<i32> {
    existing(services, user, cluster_id, vmid, name, SnapshotOp::Rollback).await
}

pub async fn delete(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    name: &str,
) -> Result<i32> {
    existing(services, user, cluster_id, vmid, name, SnapshotOp::Delete).await
}

/// Reads Proxmox's list again (snapshots taken outside the portal); anyone who sees the page.
pub async fn refresh(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<i32> {
    let v = viewer(services, user, cluster_id, vmid).await?;
    let order = SnapshotOrder {
        op: SnapshotOp::Refresh,
        name: String::new(),
        description: String::new(),
        vmstate: false,
    };
    queue(services, user, &v, order).await
}

/// A rollback or delete of a snapshot the page lists.
async fn existing(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    name: &str,
    op: SnapshotOp,
) -> Result<i32> {
    let v = viewer(services, user, cluster_id, vmid).await?;
    v.ensure_may_change()?;
    v.ensure_ready()?;
    let known = rows(cluster_id, vmid)
        .filter(vm_snapshot::Column::Name.eq(name))
        .one(&services.db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Snapshot {name}")))?;
    let order = SnapshotOrder {
        op,
        name: known.name,
        description: String::new(),
        vmstate: false,
    };
    queue(services, user, &v, order).await
}

async fn queue(
    services: &Services,
    user: &user::Model,
    v: &Viewer,
    order: SnapshotOrder,
) -> Result<i32> {
    let busy = job::Entity::find()
        .filter(job::Column::ClassId.eq(v.class.id))
        .filter(job::Column::Kind.eq(JobKind::Snapshot))
        .filter(job::Column::Vmid.eq(v.row.vmid))
        .filter(job::Column::State.is_in(JobState::ACTIVE))
        .count(&services.db)
        .await?;
    if busy > 0 {
        return Err(Error::Conflict(
            "A snapshot change of this VM is under way; wait for it to finish.".into(),
        ));
    }
    let job = queue_snapshot(&services.db, v.class.id, v.row.vmid, user.id, &order).await?;
    services.jobs.wake();
    Ok(job.id)
}

/// How many snapshots each student may keep on their VM (0: students may not take any).
/// Snapshots they already have stay.
pub async fn set_student_limit(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    limit: i32,
) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    let limit = check_student_snapshots(limit).map_err(Error::Invalid)?;
    class::ActiveModel {
        id: Set(class.id),
        student_snapshots: Set(limit),
        ..Default::default()
    }
    .update(&services.db)
    .await?;
    // The students' cards show or hide their "Snapshots" link.
    inventory::bump_for_class(&services.db, class.cluster_id, class.id).await
}
