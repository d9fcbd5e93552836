//! Reset: one VM back to the class base. An overlay VM gets fresh overlays of the base's
//! disks. A cloned VM is destroyed and cloned again from the base on its node, with the same
//! MACs. A `baseline` snapshot rolled back would be faster (1.0 s against 3.3 s on pvesim's
//! model, `cargo bench -p lab --bench deploy -- reset`), but ZFS refuses to roll back past
//! a newer snapshot (pve-storage `ZFSPoolPlugin.pm` `volume_rollback_is_possible`), so a
//! student's own snapshot would break their reset; the re-clone works on every storage and
//! from any state of the VM.

use crate::Error;
use crate::db::entity::{class, class_vm};
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::clone_vm::{CloneSource, clone_vm, ensure_pool};
use crate::jobs::steps::context::Ctx;
use crate::jobs::steps::destroy::destroy_vm;
use crate::jobs::steps::disks::data_disk_paths;
use crate::jobs::steps::reimage::reimage;
use crate::jobs::steps::rows::{StepChange, base_for, ready_bases, reload, set_step};
use crate::model::{DeployMethod, VmStep};

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let vmid = run.job_vmid()?;
    let ctx = Ctx::open(&run.services, class).await?;
    let rows = ctx.rows(&run.services).await?;
    let row = rows
        .iter()
        .find(|r| r.vmid == vmid)
        .ok_or_else(|| JobError::Permanent(Error::NotFound(format!("VM {vmid}"))))?;
    let bases = ready_bases(run, &rows).await?;
    // The base on the VM's node (a copy, for a class spread over node-local storage).
    let base = base_for(&bases, &row.node);
    if ctx.class.method.is_clone() {
        reclone(run, &ctx, row, base).await?;
    } else {
        let backing = data_disk_paths(&ctx, base)?;
        reimage(run, &ctx, row, &backing).await?;
    }
    Ok(Outcome::Done)
}

/// Destroys the VM of `row` and clones it again from `base`. The row says `queued` first, so
/// a job resumed after a crash redoes both (each is idempotent) and never keeps a half-done
/// VM as ready.
pub async fn reclone(
    run: &JobRun,
    ctx: &Ctx,
    row: &class_vm::Model,
    base: &class_vm::Model,
) -> Result<(), JobError> {
    if row.step != VmStep::Queued {
        let txn = run.begin("vm queued", Some(row.vmid)).await?;
        set_step(&txn, row.id, VmStep::Queued, StepChange::default()).await?;
        txn.commit().await?;
    }
    ensure_pool(run, ctx).await?;
    destroy_vm(run, ctx, row, None).await?;
    let row = reload(&run.services, row).await?.ok_or_else(|| {
        JobError::Permanent(Error::NotFound(format!("the row of VM {}", row.vmid)))
    })?;
    let from = CloneSource {
        vmid: base.vmid as u32,
        node: base.node.clone(),
        full: ctx.class.method == DeployMethod::FullClone,
    };
    clone_vm(run, ctx, &row, &from).await
}
