//! Power: a policy's act on some VMs of a class (shut down, hibernate, start), queued by the
//! policy worker with its order (`PowerOrder`) in the job's detail.
//!
//! Idempotent per VM: a VM already in the wanted state (the student acted, or a resumed job
//! did it before a crash) is left alone. A shutdown is ACPI with Proxmox's own forced stop
//! after [`GRACE_SECS`] (`forceStop=1`), so the grace period holds even if the portal goes
//! down meanwhile. A hibernation that Proxmox refuses (no state storage, a container, a
//! passthrough device) falls back to that shutdown. Every outcome, Proxmox's task error
//! included, goes to the policy log; nothing is retried (the policy worker acts once per
//! boot), so a refusal is never hammered.

use crate::clusters;
use crate::db::entity::{class, vm};
use crate::inventory;
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::fan_out::fan_out;
use crate::model::{PolicyAction, PowerOrder};
use crate::policy_log::{Entry, record};
use crate::pve::{Client, GuestKind, PowerAction};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::Duration;

/// Seconds an ACPI shutdown gets before Proxmox stops the VM.
pub const GRACE_SECS: u32 = 120;

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let order: PowerOrder = run.order()?;
    let cluster = clusters::find(&run.services, class.cluster_id).await?;
    let client = clusters::client(&run.services, &cluster)?;
    let work: Vec<_> = order
        .vmids
        .iter()
        .map(|vmid| one(run, &client, &class, &order, *vmid))
        .collect();
    let done = fan_out(run, work).await;
    run.services.sync.wake();
    done.map(|()| Outcome::Done)
}

/// One VM: act unless it is already where the order wants it, and log how it went. Only an
/// interruption (shutdown, lost lease) is an error; Proxmox's refusals are logged.
async fn one(
    run: &JobRun,
    client: &Client,
    class: &class::Model,
    order: &PowerOrder,
    vmid: i32,
) -> Result<(), JobError> {
    let services = &run.services;
    let Some(row) = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(class.cluster_id))
        .filter(vm::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await?
    else {
        return Ok(());
    };
    let done = match order.action {
        PolicyAction::Start => row.status == "running",
        PolicyAction::Shutdown | PolicyAction::Hibernate => row.status == "stopped",
    };
    if done {
        return Ok(());
    }
    run.guard("power", Some(vmid)).await?;
    mark_pending(run, &row, order.action).await?;
    let kind = if row.kind == "lxc" {
        GuestKind::Lxc
    } else {
        GuestKind::Qemu
    };
    let mut outcome = act(client, &row.node, kind, vmid as u32, order.action).await;
    let mut did = order.action;
    if order.action == PolicyAction::Hibernate && outcome.is_err() {
        let refused = outcome.err().unwrap_or_default();
        log(
            run,
            class,
            &row,
            order,
            "failed",
            Some(format!("hibernate: {refused}")),
        )
        .await?;
        did = PolicyAction::Shutdown;
        outcome = act(client, &row.node, kind, vmid as u32, PolicyAction::Shutdown).await;
    }
    let (word, detail) = match &outcome {
        Ok(()) => (did.as_str(), None),
        Err(e) => ("failed", Some(format!("{}: {e}", did.as_str()))),
    };
    if outcome.is_err() {
        clear_pending(run, &row, detail.clone()).await?;
    }
    log(run, class, &row, order, word, detail).await
}

/// Sends the action and waits for its task; `Err` is Proxmox's message.
async fn act(
    client: &Client,
    node: &str,
    kind: GuestKind,
    vmid: u32,
    action: PolicyAction,
) -> Result<(), String> {
    let upid = match (action, kind) {
        (PolicyAction::Start, _) => client.power(node, kind, vmid, PowerAction::Start).await,
        (PolicyAction::Hibernate, GuestKind::Qemu) => client.hibernate(node, vmid).await,
        (PolicyAction::Hibernate, GuestKind::Lxc) => {
            return Err("containers cannot hibernate".into());
        }
        (PolicyAction::Shutdown, _) => client.shutdown_forced(node, kind, vmid, GRACE_SECS).await,
    }
    .map_err(|e| e.to_string())?;
    let wait = Duration::from_secs(GRACE_SECS as u64 + 60);
    let status = client
        .wait_task(node, &upid, wait)
        .await
        .map_err(|e| e.to_string())?;
    match status.succeeded() {
        Some(false) => Err(status
            .exitstatus
            .unwrap_or_else(|| "the task failed".into())),
        _ => Ok(()),
    }
}

/// The card shows "Stopping…"/"Starting…" while the portal acts, as for a person's action.
async fn mark_pending(run: &JobRun, row: &vm::Model, action: PolicyAction) -> Result<(), JobError> {
    let word = match action {
        PolicyAction::Start => "start",
        PolicyAction::Shutdown | PolicyAction::Hibernate => "shutdown",
    };
    let txn = run.begin("power pending", Some(row.vmid)).await?;
    inventory::mark_pending(&txn, row, word, run.services.clock.now()).await?;
    txn.commit().await?;
    Ok(())
}

async fn clear_pending(
    run: &JobRun,
    row: &vm::Model,
    error: Option<String>,
) -> Result<(), JobError> {
    let txn = run.begin("power failed", Some(row.vmid)).await?;
    inventory::end_pending(&txn, row.cluster_id, row.id, row.vmid, error).await?;
    txn.commit().await?;
    Ok(())
}

async fn log(
    run: &JobRun,
    class: &class::Model,
    row: &vm::Model,
    order: &PowerOrder,
    action: &str,
    detail: Option<String>,
) -> Result<(), JobError> {
    let student = crate::access::student_of(&run.services, row.cluster_id, row.vmid).await?;
    let txn = run.begin("power log", Some(row.vmid)).await?;
    record(
        &txn,
        run.services.clock.now(),
        Entry {
            class_id: class.id,
            cluster_id: row.cluster_id,
            vmid: Some(row.vmid),
            user_id: student,
            action: action.into(),
            reason: order.reason.as_str().into(),
            detail,
            job_id: Some(run.job.id),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
