//! The life of one VM's step, shared by both ways of making a VM (`make_vm` over a node
//! shell, `clone_vm` through Proxmox's clone API): skip it when final, a last cancel
//! checkpoint, then attempts: `creating` (with the attempt count) before the work, `ready`
//! with the VM's disks in one fenced write after it; a failure that may pass is tried again
//! after a growing pause, up to `jobs.attempts`; one that keeps failing is cleaned up and
//! the row marked `failed` with the reason.

use super::rows::{StepChange, set_step};
use crate::db::entity::class_vm;
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::model::VmStep;
use std::future::Future;
use std::time::Duration;

/// Runs `work` (which returns the disk record) for `row` as described above; `cleanup`
/// removes what a failed VM left. `node_slot`: the work holds a slot on the row's node.
/// `Ok` also when the VM failed for good (its row says so); `Err` only when the job must
/// stop (cancelled before the VM began, lease lost, shutdown).
pub async fn attempt_vm<W, WF, C, CF>(
    run: &JobRun,
    row: &class_vm::Model,
    node_slot: bool,
    work: W,
    cleanup: C,
) -> Result<(), JobError>
where
    W: Fn() -> WF,
    WF: Future<Output = Result<String, JobError>>,
    C: FnOnce() -> CF,
    CF: Future<Output = Result<(), JobError>>,
{
    if row.step.is_final() {
        return Ok(());
    }
    // The last moment a cancel keeps this VM from being made; once its row says
    // `creating`, it is finished (or cleaned up), so a cancel never leaves half a VM.
    run.checkpoint("start vm", Some(row.vmid)).await?;
    let mut attempt = row.attempts;
    let error = loop {
        let slot = match node_slot {
            true => Some(run.node_slot(row.cluster_id, &row.node).await),
            false => None,
        };
        attempt += 1;
        let txn = run.begin("vm creating", Some(row.vmid)).await?;
        let creating = StepChange {
            attempts: Some(attempt),
            ..StepChange::default()
        };
        set_step(&txn, row.id, VmStep::Creating, creating).await?;
        txn.commit().await?;
        match work().await {
            Ok(disks) => {
                let txn = run.begin("vm ready", Some(row.vmid)).await?;
                let ready = StepChange {
                    disks: Some(disks),
                    ..StepChange::default()
                };
                set_step(&txn, row.id, VmStep::Ready, ready).await?;
                txn.commit().await?;
                return Ok(());
            }
            Err(e) if e.is_interruption() => return Err(e),
            Err(JobError::Retryable(e)) if attempt < run.settings.attempts => {
                tracing::info!(vmid = row.vmid, attempt, error = %e, "retrying VM");
                drop(slot);
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt as u32))).await;
            }
            Err(e) => break e,
        }
    };
    tracing::warn!(vmid = row.vmid, error = %error, "VM failed; cleaning up");
    match cleanup().await {
        Err(e) if e.is_interruption() => return Err(e),
        Err(e) => tracing::warn!(vmid = row.vmid, error = %e, "cleanup of a failed VM failed"),
        Ok(()) => {}
    }
    let txn = run.begin("vm failed", Some(row.vmid)).await?;
    let failed = StepChange {
        error: Some(error.to_string()),
        ..StepChange::default()
    };
    set_step(&txn, row.id, VmStep::Failed, failed).await?;
    txn.commit().await?;
    Ok(())
}
