//! Destroying one VM of a class: through the API if it is ours (its config carries our MAC),
//! then any file of it PVE did not remove (or that never got a config) over the shell.

use super::context::Ctx;
use super::disks::new_volids;
use super::rows::current_node;
use crate::Error;
use crate::db::entity::class_vm;
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::node::guest_config::GuestConfig;
use crate::node::{NodeOps, Script};
use crate::pve::GuestKind;
use std::time::Duration;

pub async fn destroy_vm(
    run: &JobRun,
    ctx: &Ctx,
    row: &class_vm::Model,
    source: Option<&GuestConfig>,
) -> Result<(), JobError> {
    let vmid = row.vmid as u32;
    let node = current_node(&run.services, row).await?;
    let own_mac = row
        .macs
        .split(',')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    run.guard("read config", Some(row.vmid)).await?;
    let ours = ctx
        .read_config(&node, vmid)
        .await?
        .is_some_and(|c| c.macs().iter().any(|m| m.to_ascii_uppercase() == own_mac));
    if ours {
        ctx.ensure_stopped(run, &node, vmid).await?;
        run.guard("destroy vm", Some(row.vmid)).await?;
        let upid = match ctx.client.destroy_guest(&node, GuestKind::Qemu, vmid).await {
            Ok(upid) => Some(upid),
            // Gone meanwhile (a resumed job, or someone removed it in Proxmox).
            Err(e) if e.is_missing() => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(upid) = upid {
            let status = ctx
                .client
                .wait_task(&node, &upid, Duration::from_secs(300))
                .await?;
            if status.succeeded() == Some(false) {
                return Err(JobError::Permanent(Error::Proxmox(
                    status.exitstatus.unwrap_or_default(),
                )));
            }
        }
    }
    if let Some(src) = source {
        let mut files = Vec::new();
        for v in new_volids(src, &ctx.class.storage, vmid).values() {
            let p = ctx.paths.volume(v)?;
            files.push(format!("{p}.part"));
            files.push(p);
        }
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        run.guard("remove files", Some(row.vmid)).await?;
        ctx.shell
            .run(&NodeOps::remove(Script::new(), &refs)?, b"")
            .await?;
    }
    Ok(())
}
