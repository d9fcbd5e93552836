//! The VM action server functions: `vms/action` (power) and `classes/reset` (reset to
//! baseline). Each finds who is asking; `lab` checks the VM access.

use crate::AppError;
#[cfg(feature = "ssr")]
use lab::model::{Role, VmAction, Vmid};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::audited;
#[cfg(feature = "ssr")]
use crate::session::{require, services};
#[cfg(feature = "ssr")]
use lab::audit::Entry;
#[cfg(feature = "ssr")]
use lab::model::AuditAction;

#[server(endpoint = "vms/action")]
pub async fn power_vm(cluster_id: i32, vmid: i32, action: String) -> Result<(), AppError> {
    let session = require(Role::Student).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    let action = VmAction::parse(&action)
        .ok_or_else(|| AppError::Invalid(format!("{action:?} is not a VM action.")))?;
    let result = lab::actions::power(&services()?, &session.user, cluster_id, vmid, action).await;
    let entry = Entry::by(&session.user, AuditAction::VmPower)
        .vm(cluster_id, vmid)
        .detail(action.as_str());
    audited::record(entry, &result).await;
    result?;
    Ok(())
}

/// Reset to baseline: the student who uses the VM, or the class's teachers.
#[server(endpoint = "classes/reset")]
pub async fn reset_vm(cluster_id: i32, vmid: i32) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    let result = lab::classes::request_reset(&services()?, &s.user, cluster_id, vmid).await;
    audited::record(
        Entry::by(&s.user, AuditAction::VmReset).vm(cluster_id, vmid),
        &result,
    )
    .await;
    Ok(result?)
}
