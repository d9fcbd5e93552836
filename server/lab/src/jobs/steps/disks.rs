//! Where a VM's disks come from and what they are called: the class's source config (the
//! template's, or a plain one), the volids PVE would give a new VM, and the record of a made
//! VM's disks (`slot=volid,…` in `class_vms.disks`).

use super::context::Ctx;
use crate::Error;
use crate::db::entity::class_vm;
use crate::jobs::error::JobError;
use crate::node::guest_config::{DiskKind, GuestConfig};
use std::collections::BTreeMap;

/// Where each VM's data disks come from.
#[derive(Clone)]
pub enum Source {
    /// slot → absolute path of the qcow2 to put an overlay on.
    Overlay(BTreeMap<String, String>),
    /// Blank disks of this many GiB (a class without a template).
    Blank(u32),
}

/// The config every VM of the class is cloned from: the template's, or a plain one.
pub async fn source_config(ctx: &Ctx) -> Result<GuestConfig, JobError> {
    let c = &ctx.class;
    match (c.template_vmid, &c.template_node) {
        (Some(tid), Some(node)) => ctx.read_config(node, tid as u32).await?.ok_or_else(|| {
            JobError::Permanent(Error::Invalid(format!(
                "The template's config (VM {tid} on {node}) is gone."
            )))
        }),
        _ => {
            let text = format!(
                "agent: 1\nboot: order=scsi0\ncores: {}\nmemory: {}\nnet0: virtio=00:00:00:00:00:00,bridge=vmbr0\nostype: l26\nscsi0: {}:{}/vm-{}-disk-0.qcow2,size={}G\nscsihw: virtio-scsi-single\n",
                c.cores.unwrap_or(1),
                c.memory_mb.unwrap_or(1024),
                c.storage,
                c.vmid_base + 99,
                c.vmid_base + 99,
                c.disk_gb.unwrap_or(8)
            );
            GuestConfig::parse(&text)
                .map_err(|e| JobError::Permanent(Error::Internal(e.to_string())))
        }
    }
}

/// The new volids of a VM: one per disk slot of the source (CD-ROMs excluded), numbered the
/// way PVE numbers a guest's disks.
pub fn new_volids(source: &GuestConfig, storage: &str, vmid: u32) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut index = 0;
    for d in source.disks() {
        let ext = match d.kind {
            DiskKind::CdRom => continue,
            // PVE (re)generates the cloud-init drive at start; the clone only needs its name.
            DiskKind::CloudInit => {
                out.insert(
                    d.slot.clone(),
                    format!("{storage}:{vmid}/vm-{vmid}-cloudinit.qcow2"),
                );
                continue;
            }
            DiskKind::Tpm => "raw",
            DiskKind::Efi => d
                .volid
                .as_deref()
                .and_then(|v| v.rsplit_once('.'))
                .map(|(_, e)| e)
                .filter(|e| *e == "raw" || *e == "qcow2")
                .unwrap_or("raw"),
            DiskKind::Data => "qcow2",
        };
        out.insert(
            d.slot.clone(),
            format!("{storage}:{vmid}/vm-{vmid}-disk-{index}.{ext}"),
        );
        index += 1;
    }
    out
}

/// The `class_vms.disks` record of a VM's volids.
pub fn disk_record(volids: &BTreeMap<String, String>) -> String {
    volids
        .iter()
        .map(|(s, v)| format!("{s}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// slot → path of each data disk a (made) VM has, from its row.
pub fn data_disk_paths(
    ctx: &Ctx,
    row: &class_vm::Model,
) -> Result<BTreeMap<String, String>, JobError> {
    let mut out = BTreeMap::new();
    for pair in row.disks.split(',').filter(|p| !p.is_empty()) {
        let (slot, volid) = pair.split_once('=').ok_or_else(|| {
            JobError::Permanent(Error::Internal(format!("bad disk record {pair:?}")))
        })?;
        if slot != "efidisk0" && slot != "tpmstate0" {
            out.insert(slot.to_owned(), ctx.paths.volume(volid)?);
        }
    }
    Ok(out)
}
