//! Snapshot: take, roll back or delete one snapshot of one class VM, or re-read its list,
//! with the order (`SnapshotOrder`) in the job's detail. When it ends, whether the act
//! worked or not, the VM's rows in `vm_snapshots` are rewritten from Proxmox's list, so the
//! snapshot page (which reads the database only) shows what Proxmox has.
//!
//! Idempotent for a resumed job (the runner died mid-way): Proxmox's list is read first, so
//! a snapshot that already exists is not taken twice and one already gone is not deleted
//! again. A rollback cannot tell whether it ran, and runs again: the VM goes back to the
//! same snapshot, which is what the person asked for. Proxmox's refusal (a lock, a name in
//! use, a storage that cannot snapshot) fails the job with Proxmox's words; it is not
//! retried.

use crate::db::entity::{class, vm};
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::owner::follow;
use crate::model::{SnapshotOp, SnapshotOrder};
use crate::pve::{Client, GuestKind};
use crate::{Error, clusters, snapshots};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::Duration;

/// A snapshot with RAM of a big VM, or a rollback on slow storage, takes minutes.
const TASK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let order: SnapshotOrder = run.order()?;
    let vmid = run.job_vmid()?;
    let services = &run.services;
    let row = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(class.cluster_id))
        .filter(vm::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await?
        .ok_or_else(|| JobError::Permanent(Error::NotFound(format!("VM {vmid}"))))?;
    let cluster = clusters::find(services, class.cluster_id).await?;
    let client = clusters::client(services, &cluster)?;
    let kind = if row.kind == "lxc" {
        GuestKind::Lxc
    } else {
        GuestKind::Qemu
    };
    let node = row.node.clone();
    let outcome = {
        let _slot = run.node_slot(class.cluster_id, &node).await;
        act(run, &client, &node, kind, vmid, &order).await
    };
    if let Err(e) = &outcome
        && e.is_interruption()
    {
        return outcome.map(|()| Outcome::Done);
    }
    // Whatever happened, the list now is Proxmox's.
    let list = client.snapshots(&node, kind, vmid as u32).await?;
    let taken_by = (order.op == SnapshotOp::Take && outcome.is_ok())
        .then_some(run.job.requested_by)
        .flatten()
        .map(|user| (order.name.as_str(), user));
    let txn = run.begin("snapshot list", Some(vmid)).await?;
    snapshots::replace(&txn, class.cluster_id, vmid, &list, taken_by).await?;
    txn.commit().await?;
    if order.op == SnapshotOp::Rollback {
        services.sync.wake(); // the VM may have stopped or resumed
    }
    outcome.map(|()| Outcome::Done)
}

/// The act itself, skipped when Proxmox's list says it is already done.
async fn act(
    run: &JobRun,
    client: &Client,
    node: &str,
    kind: GuestKind,
    vmid: i32,
    order: &SnapshotOrder,
) -> Result<(), JobError> {
    if order.op == SnapshotOp::Refresh {
        return Ok(());
    }
    let id = vmid as u32;
    let exists = client
        .snapshots(node, kind, id)
        .await?
        .iter()
        .any(|s| s.name == order.name);
    let name = order.name.as_str();
    run.guard("snapshot act", Some(vmid)).await?;
    let upid = match order.op {
        SnapshotOp::Take if exists => return Ok(()),
        SnapshotOp::Take => {
            client
                .take_snapshot(node, kind, id, name, &order.description, order.vmstate)
                .await
        }
        SnapshotOp::Delete if !exists => return Ok(()),
        SnapshotOp::Delete => client.delete_snapshot(node, kind, id, name, false).await,
        SnapshotOp::Rollback if !exists => {
            return Err(JobError::Permanent(Error::NotFound(format!(
                "The snapshot {name} is gone."
            ))));
        }
        SnapshotOp::Rollback => client.rollback_snapshot(node, kind, id, name).await,
        SnapshotOp::Refresh => return Ok(()),
    }?;
    match follow(client, node, &upid, TASK_TIMEOUT).await {
        // A task refused by a lock is not retried here: the person sees why and asks again.
        Err(JobError::Retryable(e @ Error::Proxmox(_))) => Err(JobError::Permanent(e)),
        other => other,
    }
}
