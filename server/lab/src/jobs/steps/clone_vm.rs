//! Making one VM of a class with Proxmox's own clone (no node shell): `POST …/clone`, the
//! task followed to its end, then `PUT …/config` (the row's MACs, CPU/RAM override, tags),
//! and for the class base `POST …/template`. Attempts and retries as [`super::attempts`]
//! runs them; a VM that keeps failing is destroyed if it is ours.
//!
//! Crash safety: the row says `creating` before the clone is asked for, and `ready` is
//! written with the VM's volids in one fenced UPDATE at the end. Proxmox's clone task goes
//! on without us, so a resumed job first [`settle`]s (waits out a clone under way), then
//! finds the VM ours by the marker it was cloned with and carries on from there instead of
//! cloning again; a clone Proxmox undid (its task failed) leaves nothing, and is redone.
//!
//! A copy of the class base for another node (node-local storage) is cloned on the source's
//! node and then migrated offline; a resumed job looks for it on both nodes, waiting out a
//! migration under way (`lock: migrate`), and carries on from where it is.

use super::attempts::attempt_vm;
use super::context::Ctx;
use super::destroy::destroy_vm;
use super::owner::{description, exists_error, follow, locate, owned, settle};
use super::rows::is_base_copy;
use crate::Error;
use crate::db::entity::class_vm;
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::model::{VmRole, class_pool};
use crate::node::guest_config::{DiskKind, GuestConfig};
use crate::pve::CloneSpec;
use std::time::Duration;

/// Makes the class's pool (a job that clones calls this first; repeating it is harmless).
pub async fn ensure_pool(run: &JobRun, ctx: &Ctx) -> Result<(), JobError> {
    run.guard("make pool", None).await?;
    let comment = format!("Proxlab class '{}'", ctx.class.name);
    ctx.client
        .ensure_pool(&class_pool(ctx.class.vmid_base), &comment)
        .await?;
    Ok(())
}

/// A full copy of a big disk can take long; a linked clone takes seconds.
const TASK_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

/// What a VM is cloned from.
#[derive(Clone, Debug)]
pub struct CloneSource {
    pub vmid: u32,
    pub node: String,
    /// A full copy onto the class's storage (else a linked clone).
    pub full: bool,
}

/// Clones the VM of `row` unless it is already final. `Ok` also when the VM failed for good
/// (its row says so); `Err` only when the job must stop.
pub async fn clone_vm(
    run: &JobRun,
    ctx: &Ctx,
    row: &class_vm::Model,
    from: &CloneSource,
) -> Result<(), JobError> {
    // A full copy moves data on the node: it takes a node slot. A linked clone is a
    // metadata step Proxmox does in about a second; it is bounded by the job's fan-out
    // only, so a class is cloned as parallel as Proxmox allows (many clones of one stopped
    // template share its lock).
    let work = || make(run, ctx, row, from);
    let clean = || destroy_vm(run, ctx, row, None);
    attempt_vm(run, row, from.full, work, clean).await
}

/// One attempt, each part skipped when a resumed job finds it done. Returns the disk record.
async fn make(
    run: &JobRun,
    ctx: &Ctx,
    row: &class_vm::Model,
    from: &CloneSource,
) -> Result<String, JobError> {
    let vmid = row.vmid as u32;
    // A copy of the base for another node: node-local disks cannot be cloned across nodes,
    // so it is cloned beside its source and then migrated.
    let moves = is_base_copy(&ctx.class, row) && row.node != from.node;
    let nodes: Vec<&str> = if moves {
        vec![row.node.as_str(), from.node.as_str()]
    } else {
        vec![row.node.as_str()]
    };
    run.guard("read config", Some(row.vmid)).await?;
    let mut found = locate(ctx, &nodes, vmid).await?;
    if found.is_none() {
        run.guard("clone vm", Some(row.vmid)).await?;
        let text = description(row);
        let pool = class_pool(ctx.class.vmid_base);
        let spec = CloneSpec {
            newid: vmid,
            name: &row.name,
            description: &text,
            target: if moves { &from.node } else { &row.node },
            full: from.full,
            storage: from.full.then_some(ctx.class.storage.as_str()),
            pool: Some(&pool),
        };
        match ctx.client.clone_vm(&from.node, from.vmid, &spec).await {
            // The task runs on the source's node and names the source VMID.
            Ok(upid) => follow(&ctx.client, &from.node, &upid, TASK_TIMEOUT).await?,
            // Made meanwhile (a lost reply to our own request): look at it below.
            Err(e) if exists_error(&e) => {}
            Err(e) => return Err(e.into()),
        }
        found = locate(ctx, &nodes, vmid).await?;
    }
    let (node, config) = found.ok_or_else(|| {
        JobError::Retryable(Error::Proxmox(format!(
            "VM {vmid} vanished right after its clone finished"
        )))
    })?;
    if !owned(&config, row) {
        return Err(JobError::Permanent(Error::Conflict(format!(
            "VMID {vmid} is taken by a VM that is not this class's."
        ))));
    }
    let config = if node != row.node {
        migrate(run, ctx, row, &node).await?
    } else {
        config
    };
    configure(run, ctx, row, &config).await?;
    if row.role == VmRole::Base && !config.is_template() {
        run.guard("make template", Some(row.vmid)).await?;
        match ctx.client.make_template(&row.node, vmid).await {
            Ok(upid) => follow(&ctx.client, &row.node, &upid, TASK_TIMEOUT).await?,
            // A template task of a runner that died finished after we read the config.
            Err(e) if e.to_string().contains("convert a template to a template") => {}
            // ... or still holds the VM's lock.
            Err(e) if e.to_string().contains("can't lock file") => {
                return Err(JobError::Retryable(e.into()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let config = ctx.api_config(&row.node, vmid).await?.unwrap_or(config);
    Ok(disk_record(&config))
}

/// Moves the (stopped, not yet a template) VM of `row` from `node` to its own node, its
/// disks onto the storage of the same name there; returns its config there.
async fn migrate(
    run: &JobRun,
    ctx: &Ctx,
    row: &class_vm::Model,
    node: &str,
) -> Result<GuestConfig, JobError> {
    let vmid = row.vmid as u32;
    run.guard("migrate vm", Some(row.vmid)).await?;
    let upid = ctx.client.migrate_vm(node, vmid, &row.node).await?;
    follow(&ctx.client, node, &upid, TASK_TIMEOUT).await?;
    settle(ctx, &row.node, vmid).await?.ok_or_else(|| {
        JobError::Retryable(Error::Proxmox(format!(
            "VM {vmid} is not on {} after its migration finished",
            row.node
        )))
    })
}

/// The row's MACs (so the VM keeps its identity on the network across resets), the class's
/// CPU/RAM override and tags. Synchronous; repeating it changes nothing.
async fn configure(
    run: &JobRun,
    ctx: &Ctx,
    row: &class_vm::Model,
    config: &GuestConfig,
) -> Result<(), JobError> {
    let macs: Vec<String> = row
        .macs
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    let mut keys: Vec<(String, String)> = config
        .nets_with_macs(&macs)
        .into_iter()
        .filter(|(k, v)| config.get(k) != Some(v.as_str()))
        .collect();
    if let Some(c) = ctx.class.cores {
        keys.push(("cores".into(), c.to_string()));
    }
    if let Some(m) = ctx.class.memory_mb {
        keys.push(("memory".into(), m.to_string()));
    }
    keys.push((
        "tags".into(),
        format!("proxlab;class-{};{}", ctx.class.id, row.role),
    ));
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run.guard("set config", Some(row.vmid)).await?;
    ctx.client
        .set_config(&row.node, row.vmid as u32, &pairs)
        .await?;
    Ok(())
}

/// `slot=volid,…` of the VM's disks (CD-ROMs left out), as `class_vms.disks` records them.
fn disk_record(config: &GuestConfig) -> String {
    config
        .disks()
        .into_iter()
        .filter(|d| d.kind != DiskKind::CdRom)
        .filter_map(|d| Some(format!("{}={}", d.slot, d.volid?)))
        .collect::<Vec<_>>()
        .join(",")
}
