//! Power actions on a VM: check who asks, claim the VM in the database (so a double click
//! sends one request), call Proxmox, and follow the task in the background. The row shows
//! "Starting…"/"Stopping…" at once; the sync confirms the new state, and a failed task leaves
//! Proxmox's own message on the card.

use crate::clock::now;
use crate::db::entity::{user, vm};
use crate::inventory::{PENDING_TIMEOUT_SECS, bump_for_vms, state_of, usable_vm};
use crate::model::VmAction;
use crate::pve::{GuestKind, PowerAction};
use crate::{Error, Result, Services, clusters};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use std::collections::HashSet;
use std::time::Duration;

/// How long the background watcher follows a task.
const TASK_WATCH: Duration = Duration::from_secs(300);

/// What happened to the request.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Proxmox accepted it; this is the task's UPID.
    Started(String),
    /// The same VM already has an action in flight; nothing was sent.
    AlreadyPending,
}

pub async fn power(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    action: VmAction,
) -> Result<Outcome> {
    let row = usable_vm(services, user, cluster_id, vmid).await?;
    if action == VmAction::Start {
        // Access hours and quota (a student's own class VM; teachers are exempt).
        crate::policies::gate::may_start(services, user, cluster_id, vmid).await?;
    }
    let now = now();
    let state = state_of(&row, now);
    if !action.allowed_in(state) {
        return Err(Error::Conflict(format!(
            "{} is {}: it cannot {} now.",
            row.name,
            state.label().trim_end_matches('…').to_lowercase(),
            action.label().to_lowercase()
        )));
    }
    let cluster = clusters::find(services, cluster_id).await?;
    if !cluster.enabled {
        return Err(Error::Unavailable(format!(
            "The cluster {} is disabled by an admin.",
            cluster.name
        )));
    }
    // The claim: one UPDATE that succeeds for one request only, whatever the concurrency.
    let claimed = vm::Entity::update_many()
        .col_expr(vm::Column::PendingAction, Expr::value(action.as_str()))
        .col_expr(vm::Column::PendingSince, Expr::value(now))
        .col_expr(vm::Column::TaskError, Expr::value(Option::<String>::None))
        .filter(vm::Column::Id.eq(row.id))
        .filter(
            Condition::any()
                .add(vm::Column::PendingAction.is_null())
                .add(vm::Column::PendingSince.lt(now - PENDING_TIMEOUT_SECS)),
        )
        .exec(&services.db)
        .await?
        .rows_affected;
    if claimed == 0 {
        return Ok(Outcome::AlreadyPending);
    }
    touch(services, cluster_id, vmid).await?;
    let client = clusters::client(services, &cluster)?;
    let kind = if row.kind == "lxc" {
        GuestKind::Lxc
    } else {
        GuestKind::Qemu
    };
    match client
        .power(&row.node, kind, vmid as u32, power_action(action))
        .await
    {
        Ok(upid) => {
            tracing::info!(user = %user.username, vmid, action = action.as_str(), "power action sent");
            vm::Entity::update_many()
                .col_expr(vm::Column::TaskUpid, Expr::value(upid.clone()))
                .filter(vm::Column::Id.eq(row.id))
                .exec(&services.db)
                .await?;
            let services = services.clone();
            let (node, watched) = (row.node.clone(), upid.clone());
            // Owned by start-up; at shutdown the watch just stops (the sync sees the task's
            // end on the next start).
            services.tasks.clone().spawn(async move {
                let stop = services.shutdown.clone();
                tokio::select! {
                    () = watch(services, cluster_id, row.id, vmid, node, watched) => {}
                    () = stop.cancelled() => {}
                }
            });
            Ok(Outcome::Started(upid))
        }
        Err(e) => {
            finish(services, cluster_id, row.id, vmid, Some(e.to_string())).await?;
            Err(e.into())
        }
    }
}

fn power_action(action: VmAction) -> PowerAction {
    match action {
        VmAction::Start => PowerAction::Start,
        VmAction::Shutdown => PowerAction::Shutdown,
        VmAction::Stop => PowerAction::Stop,
        VmAction::Reboot => PowerAction::Reboot,
    }
}

/// Follows the task: a failure clears the pending action and leaves PVE's message; success
/// wakes the sync, which confirms the new state.
async fn watch(
    services: Services,
    cluster_id: i32,
    row_id: i32,
    vmid: i32,
    node: String,
    upid: String,
) {
    let Ok(cluster) = clusters::find(&services, cluster_id).await else {
        return;
    };
    let Ok(client) = clusters::client(&services, &cluster) else {
        return;
    };
    match client.wait_task(&node, &upid, TASK_WATCH).await {
        Ok(status) if status.succeeded() == Some(false) => {
            let message = status
                .exitstatus
                .unwrap_or_else(|| "the task failed".into());
            if let Err(e) = finish(&services, cluster_id, row_id, vmid, Some(message)).await {
                tracing::error!(error = %e, "cannot record a failed task");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(vmid, error = %e, "lost track of a task"),
    }
    services.sync.wake();
}

/// Ends a pending action, with an error message or without.
async fn finish(
    services: &Services,
    cluster_id: i32,
    row_id: i32,
    vmid: i32,
    error: Option<String>,
) -> Result<()> {
    crate::inventory::end_pending(&services.db, cluster_id, row_id, vmid, error).await
}

async fn touch(services: &Services, cluster_id: i32, vmid: i32) -> Result<()> {
    bump_for_vms(&services.db, cluster_id, &HashSet::from([vmid])).await
}
