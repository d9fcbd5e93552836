//! Reset to baseline: the VM is stopped and its data disks replaced by fresh overlays of
//! the class base. Its config (MACs, UUID, EFI vars) stays, so the student's VM keeps its
//! identity on the network.

use super::context::Ctx;
use super::create::{data_disk_paths, set_step};
use super::{DeploySettings, Outcome};
use crate::db::entity::{assignment, class, class_vm, job, vm};
use crate::node::{NodeOps, Script};
use crate::{Error, Result, Services, inventory};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Where the VM is now (it may have been migrated since it was made).
pub(super) async fn current_node(services: &Services, row: &class_vm::Model) -> Result<String> {
    Ok(vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(row.cluster_id))
        .filter(vm::Column::Vmid.eq(row.vmid))
        .one(&services.db)
        .await?
        .map_or_else(|| row.node.clone(), |v| v.node))
}

/// Stops the VM and puts fresh overlays of `backing` (slot → path) under its data disks.
pub(super) async fn reimage(
    services: &Services,
    ctx: &Ctx,
    row: &class_vm::Model,
    backing: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    set_step(services, row, "creating", None).await?;
    let node = current_node(services, row).await?;
    let result = async {
        ctx.ensure_stopped(&node, row.vmid as u32).await?;
        let mut script = Script::new();
        for (slot, path) in data_disk_paths(ctx, row)? {
            let b = backing
                .get(&slot)
                .ok_or_else(|| Error::Invalid(format!("The class base has no disk {slot}.")))?;
            script = NodeOps::replace_overlay(script, b, &path)?;
        }
        ctx.shell.run(&script, b"").await?;
        Ok::<_, Error>(())
    }
    .await;
    match &result {
        Ok(()) => set_step(services, row, "ready", None).await?,
        // The VM itself is still there and whole (overlays are swapped by rename).
        Err(e) => set_step(services, row, "ready", Some(format!("Reset failed: {e}"))).await?,
    }
    let users: Vec<String> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(row.cluster_id))
        .filter(assignment::Column::Vmid.eq(row.vmid))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|a| inventory::user_key(a.user_id))
        .collect();
    inventory::bump(&services.db, users).await?;
    result
}

pub(super) async fn run(
    services: &Services,
    _settings: &DeploySettings,
    job: &job::Model,
    class: class::Model,
) -> Result<Outcome> {
    let vmid = job
        .vmid
        .ok_or_else(|| Error::Internal("reset job without a VM".into()))?;
    let ctx = Ctx::open(services, class).await?;
    let rows = ctx.rows(services).await?;
    let row = rows
        .iter()
        .find(|r| r.vmid == vmid)
        .ok_or_else(|| Error::NotFound(format!("VM {vmid}")))?;
    let base = rows
        .iter()
        .find(|r| r.role == "base" && r.step == "ready")
        .ok_or_else(|| Error::Invalid("The class base is not ready.".into()))?;
    let backing = data_disk_paths(&ctx, base)?;
    reimage(services, &ctx, row, &backing).await?;
    Ok(Outcome::Done)
}
