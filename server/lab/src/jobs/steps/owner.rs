//! Is the guest at a class VMID ours? A VM the portal made carries its row's first MAC: in
//! the config's NICs (overlay VMs, and clones once configured) or in the description set at
//! clone time (a clone found after a crash, before its NICs got our MACs). Anything else at
//! that VMID belongs to someone else and is never touched.
//!
//! A clone under way holds a config with nothing but `lock: clone` (qemu-server
//! `create_and_lock_config`), a migration holds `lock: migrate` until the config has moved
//! to the target node (`QemuMigrate.pm` `phase1`); [`settle`] waits for either to end.

use super::context::Ctx;
use crate::db::entity::class_vm;
use crate::jobs::error::JobError;
use crate::node::guest_config::GuestConfig;
use crate::{Error, pve};
use std::time::Duration;

/// How long a clone or migration found under way may take to finish (a full copy of a large
/// disk, or its copy over the network).
const CLONE_WAIT: Duration = Duration::from_secs(3600);
const POLL: Duration = Duration::from_millis(500);

/// The token a VM of `row` carries in its description.
pub fn marker(row: &class_vm::Model) -> String {
    format!(
        "proxlab:{}:{}",
        row.class_id,
        row.macs.split(',').next().unwrap_or_default()
    )
}

/// The description a clone of `row` is made with (one line: config files keep it as is).
pub fn description(row: &class_vm::Model) -> String {
    format!(
        "Made by Proxlab for a class; removed with it. {}",
        marker(row)
    )
}

pub fn owned(config: &GuestConfig, row: &class_vm::Model) -> bool {
    let own_mac = row
        .macs
        .split(',')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let by_mac = !own_mac.is_empty()
        && config
            .macs()
            .iter()
            .any(|m| m.to_ascii_uppercase() == own_mac);
    let mark = marker(row);
    let by_marker = config.get("description").is_some_and(|d| d.contains(&mark))
        || config.description().any(|d| d.contains(&mark));
    by_mac || by_marker
}

/// A clone's reservation (the config holds `lock: clone` and no drive yet), or a VM being
/// migrated away.
fn in_transit(config: &GuestConfig) -> bool {
    matches!(config.get("lock"), Some("clone" | "migrate"))
}

/// The VM's config on `node` once no clone is making it and no migration moving it; `None`
/// if the VM is not (or no longer) there.
pub async fn settle(ctx: &Ctx, node: &str, vmid: u32) -> Result<Option<GuestConfig>, JobError> {
    let deadline = tokio::time::Instant::now() + CLONE_WAIT;
    loop {
        match ctx.api_config(node, vmid).await? {
            Some(c) if in_transit(&c) => {
                if tokio::time::Instant::now() > deadline {
                    return Err(JobError::Retryable(Error::Proxmox(format!(
                        "VM {vmid} has been locked ({}) for over an hour",
                        c.get("lock").unwrap_or_default()
                    ))));
                }
                tokio::time::sleep(POLL).await;
            }
            other => return Ok(other),
        }
    }
}

/// Where the VM is among `nodes` (tried in order) and its settled config. A migration from a
/// later node to an earlier one may end between two reads, so the first node is read again
/// last.
pub async fn locate(
    ctx: &Ctx,
    nodes: &[&str],
    vmid: u32,
) -> Result<Option<(String, GuestConfig)>, JobError> {
    let again = nodes.first().filter(|_| nodes.len() > 1);
    for node in nodes.iter().chain(again) {
        if let Some(c) = settle(ctx, node, vmid).await? {
            return Ok(Some((node.to_string(), c)));
        }
    }
    Ok(None)
}

/// Waits for a Proxmox task; its failure becomes the task's own words (the exit status, and
/// the log line before it when that says more).
pub async fn follow(
    client: &pve::Client,
    node: &str,
    upid: &str,
    timeout: Duration,
) -> Result<(), JobError> {
    let status = client.wait_task(node, upid, timeout).await?;
    if status.succeeded() != Some(false) {
        return Ok(());
    }
    let exit = status.exitstatus.unwrap_or_default();
    let log = client
        .task_log_tail(node, upid, 3)
        .await
        .unwrap_or_default();
    let detail = log
        .iter()
        .rev()
        .find(|l| !l.starts_with("TASK ERROR") && !l.trim().is_empty() && !exit.contains(l.trim()))
        .filter(|l| l.contains("error") || l.contains("failed"));
    let text = match detail {
        Some(d) => format!("{exit} ({d})"),
        None => exit,
    };
    let e = Error::Proxmox(text.clone());
    // A lock held by another task passes; anything else will fail the same way again.
    if text.contains("can't lock file") || text.contains("got timeout") {
        Err(JobError::Retryable(e))
    } else {
        Err(JobError::Permanent(e))
    }
}

/// `true` when Proxmox refused a new VMID because a config exists (ours or another's).
pub fn exists_error(e: &pve::Error) -> bool {
    e.to_string().contains("already exists")
}
