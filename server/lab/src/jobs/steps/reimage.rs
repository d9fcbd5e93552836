//! Re-imaging a made VM: it is stopped and its data disks replaced by fresh overlays of a
//! backing file. Its config (MACs, UUID, EFI vars) stays, so the VM keeps its identity on the
//! network. Used by reset (back to the class base) and publish (onto a new base).

use super::context::Ctx;
use super::disks::data_disk_paths;
use super::rows::{StepChange, current_node, set_step};
use crate::db::entity::{assignment, class_vm};
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::model::VmStep;
use crate::node::{NodeOps, Script};
use crate::{Error, inventory};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::BTreeMap;

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
