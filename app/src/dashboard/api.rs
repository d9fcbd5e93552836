//! Dashboard server functions, under `/api/vms/*`. Each finds who is asking first; VM access
//! is checked in `lab::inventory::usable_vm` (others' VMs and made-up VMIDs are "not found"
//! before any Proxmox call).

use crate::AppError;
use lab::model::{Dashboard, VmFilter};
#[cfg(feature = "ssr")]
use lab::model::{Role, Vmid};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::audited;
#[cfg(feature = "ssr")]
use crate::session::{require, services, session_token};
#[cfg(feature = "ssr")]
use lab::audit::Entry;
#[cfg(feature = "ssr")]
use lab::model::AuditAction;

/// The dashboard, or `None` when `since` is still current (a poll with nothing new).
#[server(endpoint = "vms")]
pub async fn load_dashboard(
    #[server(default)] filter: VmFilter,
    #[server(default)] since: Option<i64>,
) -> Result<Option<Dashboard>, AppError> {
    // Admins page through every VM; a page number must not overflow the offset it becomes.
    lab::model::check_page(filter.page).map_err(AppError::Invalid)?;
    // Most calls are an open dashboard's poll with nothing new: one query answers those.
    if let (Some(since), Some(token)) = (since, session_token())
        && lab::inventory::unchanged_since(&services()?, &token, since).await?
    {
        return Ok(None);
    }
    let session = require(Role::Student).await?;
    let services = services()?;
    let mut dashboard = lab::inventory::dashboard(&services, &session.user, &filter, since).await?;
    if let Some(d) = dashboard.as_mut() {
        // Class VMs: the policy warning and the student's hours.
        lab::policies::gate::annotate(&services, &mut d.cards).await?;
    }
    Ok(dashboard)
}

/// Admins: `VMID username` lines assigned (or, `unassign` = "on", taken back) at once;
/// returns what happened in words.
#[server(endpoint = "admin/vms/bulk")]
pub async fn bulk_assign(
    cluster_id: i32,
    lines: String,
    #[server(default)] unassign: String,
) -> Result<String, AppError> {
    let admin = require(Role::Admin).await?;
    let take = unassign == "on";
    let services = services()?;
    let result = lab::inventory::bulk_assign(&services, cluster_id, &lines, take).await;
    let mut entry = Entry::by(&admin.user, AuditAction::VmsAssigned)
        .object(format!("VMs on cluster #{cluster_id}"))
        .cluster(cluster_id);
    entry = match &result {
        Ok(done) => entry.detail(format!(
            "{} {}: {}",
            if take { "taken back" } else { "assigned" },
            done.changed,
            lines.split_whitespace().collect::<Vec<_>>().join(" ")
        )),
        Err(_) => entry.detail(if take { "take back" } else { "assign" }),
    };
    audited::record(entry, &result).await;
    let done = result?;
    if take {
        // Class VMs taken back go to their class's waiting list.
        let vmids: Vec<i32> = lab::model::parse_bulk_lines(&lines)
            .map_err(AppError::Invalid)?
            .into_iter()
            .map(|(vmid, _)| vmid)
            .collect();
        lab::waitlist::vms_freed(&services, cluster_id, &vmids).await?;
    }
    let verb = if take { "Taken back" } else { "Assigned" };
    Ok(match done.unchanged {
        0 => format!("{verb}: {}.", done.changed),
        n => format!("{verb}: {}; {n} already so.", done.changed),
    })
}

#[server(endpoint = "admin/vms/assign")]
pub async fn assign_vm(cluster_id: i32, vmid: i32, username: String) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    let result = lab::inventory::assign(&services()?, cluster_id, vmid, username.trim()).await;
    let entry = Entry::by(&admin.user, AuditAction::VmsAssigned)
        .vm(cluster_id, vmid)
        .detail(format!("to {}", username.trim()));
    audited::record(entry, &result).await;
    Ok(result?)
}

#[server(endpoint = "admin/vms/unassign")]
pub async fn unassign_vm(cluster_id: i32, vmid: i32, username: String) -> Result<(), AppError> {
    let admin = require(Role::Admin).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    let services = services()?;
    let result = lab::inventory::unassign(&services, cluster_id, vmid, username.trim()).await;
    let entry = Entry::by(&admin.user, AuditAction::VmsAssigned)
        .vm(cluster_id, vmid)
        .detail(format!("taken back from {}", username.trim()));
    audited::record(entry, &result).await;
    result?;
    lab::waitlist::vms_freed(&services, cluster_id, &[vmid]).await?;
    Ok(())
}

/// VMs nobody has whose names, tags or pools name a user, for an admin to assign in one go.
#[server(endpoint = "admin/vms/suggested")]
pub async fn assignment_suggestions() -> Result<Vec<lab::model::AssignmentSuggestion>, AppError> {
    require(Role::Admin).await?;
    Ok(lab::inventory::suggested_assignments(&services()?).await?)
}

/// An assignment whose VM is gone from Proxmox: (username, cluster id, cluster, vmid).
pub type MissingAssignment = (String, i32, String, i32);

#[server(endpoint = "admin/vms/missing")]
pub async fn missing_assignments() -> Result<Vec<MissingAssignment>, AppError> {
    require(Role::Admin).await?;
    Ok(lab::inventory::missing_assignments(&services()?).await?)
}
