//! Making one VM of a class: its disks (overlays of the class's source, or blank), then its
//! config (the moment it exists for PVE), in one idempotent node script; attempts, retries
//! and clean-up as [`super::attempts`] runs them.
//!
//! Crash safety: the row says `creating` before the script runs, and `ready` is written
//! together with the VM's disks in one fenced UPDATE after it. A runner that dies between
//! the two leaves a `creating` row; the resumed job runs the script again, which finishes
//! what exists (the VMID guard accepts our own config, files appear by rename) instead of
//! duplicating it.

use super::attempts::attempt_vm;
use super::context::Ctx;
use super::disks::{Source, disk_record, new_volids};
use crate::Error;
use crate::db::entity::class_vm;
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::model::VmRole;
use crate::node::guest_config::{DiskKind, GuestConfig, Rewrite, random_uuid, rewrite};
use crate::node::{NodeOps, Script};
use std::collections::BTreeMap;

/// Makes the VM of `row` unless it is already final. `Ok` also when the VM failed for good
/// (its row says so); `Err` only when the job must stop (cancelled before the VM began,
/// lease lost, shutdown).
pub async fn make_vm(
    run: &JobRun,
    ctx: &Ctx,
    row: &class_vm::Model,
    source: &GuestConfig,
    disks: &Source,
) -> Result<(), JobError> {
    let volids = new_volids(source, &ctx.class.storage, row.vmid as u32);
    let work = || async {
        run.guard("make vm", Some(row.vmid)).await?;
        ctx.run_script(&vm_script(ctx, row, source, disks, &volids)?)
            .await?;
        Ok(disk_record(&volids))
    };
    let clean = || async {
        run.guard("clean up vm", Some(row.vmid)).await?;
        cleanup(ctx, row, &volids).await
    };
    attempt_vm(run, row, true, work, clean).await
}

/// The script that makes one VM (its config text inside).
fn vm_script(
    ctx: &Ctx,
    row: &class_vm::Model,
    source: &GuestConfig,
    disks: &Source,
    volids: &BTreeMap<String, String>,
) -> Result<Script, JobError> {
    let vmid = row.vmid as u32;
    let config_path = ctx.paths.config(&row.node, vmid)?;
    let macs: Vec<String> = row
        .macs
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    let own_mac = macs.first().cloned().unwrap_or_default();
    let mut script =
        Script::new().guard_vmid(ctx.paths.pve_root(), vmid, &config_path, &own_mac)?;
    script = NodeOps::mkdir(script, &ctx.paths.images_dir(&ctx.class.storage, vmid)?)?;
    for d in source
        .disks()
        .into_iter()
        .filter(|d| !matches!(d.kind, DiskKind::CdRom | DiskKind::CloudInit))
    {
        let dst = ctx.paths.volume(&volids[&d.slot])?;
        script = match d.kind {
            DiskKind::Data => match disks {
                Source::Overlay(backing) => {
                    let b = backing.get(&d.slot).ok_or_else(|| {
                        JobError::Permanent(Error::Invalid(format!(
                            "No base disk for slot {}.",
                            d.slot
                        )))
                    })?;
                    NodeOps::overlay(script, b, &dst)?
                }
                Source::Blank(gb) => NodeOps::blank_disk(script, &dst, *gb)?,
            },
            DiskKind::Efi => match d.volid.as_deref() {
                Some(src) => NodeOps::copy(script, &ctx.paths.volume(src)?, &dst)?,
                None => script,
            },
            DiskKind::Tpm => NodeOps::tpm_state(script, &dst)?,
            DiskKind::CdRom | DiskKind::CloudInit => script,
        };
    }
    let config = rewrite(
        source,
        &Rewrite {
            name: row.name.clone(),
            template: row.role == VmRole::Base,
            disks: volids.clone(),
            macs,
            smbios_uuid: random_uuid(),
            vmgenid: random_uuid(),
            cores: ctx.class.cores.map(|v| v as u32),
            memory_mb: ctx.class.memory_mb.map(|v| v as u32),
        },
    )
    .map_err(|e| JobError::Permanent(Error::Invalid(e.to_string())))?;
    Ok(NodeOps::write_once(
        script,
        &config_path,
        &config.to_text(),
    )?)
}

/// Removes what a failed VM may have left: its config (only if it is ours) and its disks.
async fn cleanup(
    ctx: &Ctx,
    row: &class_vm::Model,
    volids: &BTreeMap<String, String>,
) -> Result<(), JobError> {
    let vmid = row.vmid as u32;
    let config_path = ctx.paths.config(&row.node, vmid)?;
    let own_mac = row.macs.split(',').next().unwrap_or_default();
    let mut files: Vec<String> = Vec::new();
    for v in volids.values() {
        let p = ctx.paths.volume(v)?;
        files.push(format!("{p}.part"));
        files.push(p);
    }
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let script = NodeOps::remove_own_config(Script::new(), &config_path, own_mac)?;
    let script = NodeOps::remove(script, &refs)?;
    ctx.run_script(&script).await?;
    Ok(())
}
