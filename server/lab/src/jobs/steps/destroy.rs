//! Destroying one VM of a class: through the API if it is ours (see [`super::owner`]), then,
//! for an overlay class, any file of it PVE did not remove (or that never got a config)
//! over the shell. For a clone class a clone (or migration) still under way is waited out
//! first, so a VM Proxmox is still making is never left behind.

use super::context::Ctx;
use super::disks::new_volids;
use super::owner::{follow, locate, owned};
use super::rows::{current_node, is_base_copy};
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
    let mut node = current_node(&run.services, row).await?;
    run.guard("read config", Some(row.vmid)).await?;
    let config = if ctx.class.method.is_clone() {
        // A copy of the base for another node may not have left the template's node yet.
        let mut nodes = vec![node.as_str()];
        if let Some(t) = ctx
            .class
            .template_node
            .as_deref()
            .filter(|_| is_base_copy(&ctx.class, row))
        {
            nodes.push(t);
        }
        match locate(ctx, &nodes, vmid).await? {
            Some((at, c)) => {
                node = at;
                Some(c)
            }
            None => None,
        }
    } else {
        ctx.read_config(&node, vmid).await?
    };
    let ours = config.is_some_and(|c| owned(&c, row));
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
            follow(&ctx.client, &node, &upid, Duration::from_secs(300)).await?;
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
        ctx.run_script(&NodeOps::remove(Script::new(), &refs)?)
            .await?;
    }
    // Its snapshots went with it.
    let txn = run.begin("forget snapshots", Some(row.vmid)).await?;
    crate::snapshots::forget(&txn, row.cluster_id, row.vmid).await?;
    txn.commit().await?;
    Ok(())
}
