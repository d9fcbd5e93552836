//! Re-imaging a made VM: it is stopped and its data disks replaced by fresh overlays of a
//! backing file. Its config (MACs, UUID, EFI vars) stays, so the VM keeps its identity on the
//! network. Used by reset (back to the class base) and publish (onto a new base).
//!
//! The VM's snapshots are deleted first: they are internal snapshots of the overlays being
//! replaced (qcow2 on file storage), and a config section naming a snapshot the new disk
//! lacks would make every later rollback fail.

use super::context::Ctx;
use super::disks::data_disk_paths;
use super::owner::follow;
use super::rows::{StepChange, current_node, set_step};
use crate::db::entity::{assignment, class_vm};
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::model::VmStep;
use crate::node::{NodeOps, Script};
use crate::pve::GuestKind;
use crate::{Error, inventory};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::BTreeMap;
use std::time::Duration;

/// Stops the VM and puts fresh overlays of `backing` (slot → path) under its data disks.
/// A failure leaves the VM whole (overlays are swapped by rename) and `ready`, with the error
/// on its row, and is returned.
pub async fn reimage(
    run: &JobRun,
    ctx: &Ctx,
    row: &class_vm::Model,
    backing: &BTreeMap<String, String>,
) -> Result<(), JobError> {
    let services = &run.services;
    let txn = run.begin("reimage creating", Some(row.vmid)).await?;
    set_step(&txn, row.id, VmStep::Creating, StepChange::default()).await?;
    txn.commit().await?;
    let node = current_node(services, row).await?;
    let result = async {
        let _slot = run.node_slot(row.cluster_id, &node).await;
        ctx.ensure_stopped(run, &node, row.vmid as u32).await?;
        drop_snapshots(run, ctx, &node, row.vmid).await?;
        let mut script = Script::new();
        for (slot, path) in data_disk_paths(ctx, row)? {
            let b = backing.get(&slot).ok_or_else(|| {
                JobError::Permanent(Error::Invalid(format!(
                    "The class base has no disk {slot}."
                )))
            })?;
            script = NodeOps::replace_overlay(script, b, &path)?;
        }
        run.guard("reimage vm", Some(row.vmid)).await?;
        ctx.run_script(&script).await?;
        Ok::<_, JobError>(())
    }
    .await;
    if let Err(e) = &result
        && e.is_interruption()
    {
        return result;
    }
    let txn = run.begin("reimage done", Some(row.vmid)).await?;
    let error = result.as_ref().err().map(|e| format!("Reset failed: {e}"));
    set_step(
        &txn,
        row.id,
        VmStep::Ready,
        StepChange {
            error,
            ..StepChange::default()
        },
    )
    .await?;
    let users: Vec<String> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(row.cluster_id))
        .filter(assignment::Column::Vmid.eq(row.vmid))
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| inventory::user_key(a.user_id))
        .collect();
    inventory::bump(&txn, users).await?;
    txn.commit().await?;
    result
}

/// Deletes every snapshot of the stopped VM (`force`: the config section goes even if a disk
/// refuses), then its `vm_snapshots` rows.
async fn drop_snapshots(run: &JobRun, ctx: &Ctx, node: &str, vmid: i32) -> Result<(), JobError> {
    let id = vmid as u32;
    let names: Vec<String> = ctx
        .client
        .snapshots(node, GuestKind::Qemu, id)
        .await?
        .into_iter()
        .map(|s| s.name)
        .filter(|n| n != "current")
        .collect();
    for name in names {
        run.guard("delete snapshot", Some(vmid)).await?;
        let upid = ctx
            .client
            .delete_snapshot(node, GuestKind::Qemu, id, &name, true)
            .await?;
        follow(&ctx.client, node, &upid, Duration::from_secs(600)).await?;
    }
    let txn = run.begin("forget snapshots", Some(vmid)).await?;
    crate::snapshots::forget(&txn, ctx.class.cluster_id, vmid).await?;
    txn.commit().await?;
    Ok(())
}
