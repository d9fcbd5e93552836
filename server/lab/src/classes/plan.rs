//! The wizard's review step: the form checked, a free VMID block, placement over the nodes,
//! storage and space, and the blockers that make a plan impossible. Launch recomputes the
//! plan, so what runs is never older than the check.

use super::method;
use super::templates::ensure_offered;
use crate::access::ensure_teacher;
use crate::db::entity::{class, cluster, user, vm};
use crate::model::{
    ClassForm, ClassPlan, DeployMethod, MAX_STUDENTS, MAX_VMID, MIN_VMID, SpreadOffer,
    check_class_description, check_class_name,
};
use crate::node::guest_config::{DiskKind, GuestConfig, split_volid};
use crate::pve::{self, GuestKind};
use crate::{Error, Result, Services, clusters};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::BTreeSet;

const MIB: i64 = 1 << 20;
/// What an offline migration moves per second on a 1 Gbit/s network (the review's estimate
/// for a copy of the class base; pvesim models the same).
const MIGRATION_BYTES_PER_SEC: i64 = 110 * MIB;
/// A fresh qcow2 overlay, EFI vars and TPM state take well under this per VM.
const PER_VM_BYTES: i64 = 8 * MIB;
/// VMIDs below `LOWEST_BLOCK * 100` are left to hand-made guests.
const LOWEST_BLOCK: i32 = 10;
const HIGHEST_BLOCK: i32 = 9_999;

/// The wizard's answers, checked.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub name: String,
    pub description: String,
    pub cluster_id: i32,
    pub template_vmid: Option<i32>,
    pub students: u32,
    pub cores: Option<u32>,
    pub memory_mb: Option<u32>,
    pub disk_gb: Option<u32>,
    pub pinned_node: Option<String>,
    pub invite_days: Option<u32>,
    /// A copy of the class base on each node the class uses (node-local storage).
    pub base_per_node: bool,
}

fn number(text: &str, what: &str, range: std::ops::RangeInclusive<u32>) -> Result<Option<u32>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(Error::Invalid(format!(
            "{what}: a whole number from {} to {}.",
            range.start(),
            range.end()
        ))),
    }
}

impl Checked {
    pub fn from_form(form: &ClassForm) -> Result<Self> {
        let name = check_class_name(&form.name).map_err(Error::Invalid)?;
        let description = check_class_description(&form.description).map_err(Error::Invalid)?;
        let template_vmid = number(
            &form.template_vmid,
            "Template",
            MIN_VMID as u32..=MAX_VMID as u32,
        )?
        .map(|v| v as i32);
        let students = number(&form.students, "Student VMs", 1..=MAX_STUDENTS)?
            .ok_or_else(|| Error::Invalid(format!("Student VMs: 1 to {MAX_STUDENTS}.")))?;
        let cores = number(&form.cores, "CPU cores", 1..=64)?;
        let memory_mb = number(&form.memory_mb, "Memory (MiB)", 256..=262_144)?;
        let disk_gb = number(&form.disk_gb, "Disk (GiB)", 1..=4096)?;
        if template_vmid.is_none() && (cores.is_none() || memory_mb.is_none() || disk_gb.is_none())
        {
            return Err(Error::Invalid(
                "Without a template, give CPU cores, memory and disk size.".into(),
            ));
        }
        let pinned_node = Some(form.pinned_node.trim().to_owned()).filter(|n| !n.is_empty());
        if pinned_node
            .as_deref()
            .is_some_and(|n| !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(Error::Invalid("Node: choose one from the list.".into()));
        }
        let invite_days = number(&form.invite_days, "Invite expiry (days)", 1..=365)?;
        Ok(Self {
            name,
            description,
            cluster_id: form.cluster_id,
            template_vmid,
            students,
            cores,
            memory_mb,
            disk_gb,
            pinned_node,
            invite_days,
            base_per_node: !form.base_per_node.trim().is_empty(),
        })
    }
}

/// What the deployment needs beyond the teacher-facing plan.
#[derive(Clone, Debug)]
pub(crate) struct Placement {
    pub plan: ClassPlan,
    /// Node of each VM: index 0 teacher, 1..=n students, last the class base.
    pub nodes: Vec<String>,
    /// Nodes that get a copy of the class base.
    pub copies: Vec<String>,
    pub template_node: Option<String>,
    pub nics: usize,
    pub method: DeployMethod,
}

/// The review step of the wizard.
pub async fn plan(services: &Services, user: &user::Model, form: &ClassForm) -> Result<ClassPlan> {
    ensure_teacher(user)?;
    let checked = Checked::from_form(form)?;
    Ok(place(services, user, &checked).await?.plan)
}

/// The plan for `user`; a template the rule of [`super::templates`] does not offer them is
/// "not found" before anything reaches Proxmox.
pub(crate) async fn place(
    services: &Services,
    user: &user::Model,
    c: &Checked,
) -> Result<Placement> {
    if let Some(tid) = c.template_vmid {
        ensure_offered(services, user, c.cluster_id, tid).await?;
    }
    let cluster = clusters::find(services, c.cluster_id).await?;
    if !cluster.enabled {
        return Err(Error::Invalid("That cluster is disabled.".into()));
    }
    let client = clusters::client(services, &cluster)?;
    let mut plan = ClassPlan {
        students: c.students,
        ..ClassPlan::default()
    };
    let unreachable =
        |e: pve::Error| Error::Unavailable(format!("The cluster cannot be reached: {e}"));
    let nodes: Vec<pve::NodeInfo> = client
        .nodes()
        .await
        .map_err(unreachable)?
        .into_iter()
        .filter(|n| n.online)
        .collect();
    let guests = client.vm_resources().await.map_err(unreachable)?;

    // The source: a template's config, or the given specs.
    let (template_node, nics, disk_bytes, storage, shared, plugin) = match c.template_vmid {
        Some(tid) => {
            let t = guests
                .iter()
                .find(|g| g.vmid == tid as u32 && g.template && g.kind == GuestKind::Qemu)
                .ok_or_else(|| {
                    Error::Invalid(format!("VM {tid} is not a QEMU template of this cluster."))
                })?;
            let config = client
                .guest_config(&t.node, GuestKind::Qemu, t.vmid)
                .await
                .map_err(unreachable)?;
            let text: String = config
                .entries
                .iter()
                .map(|(k, v)| format!("{k}: {v}\n"))
                .collect();
            let parsed = GuestConfig::parse(&text).map_err(|e| Error::Proxmox(e.to_string()))?;
            let disks = parsed.disks();
            let data: Vec<_> = disks.iter().filter(|d| d.kind == DiskKind::Data).collect();
            if data.is_empty() {
                plan.blockers
                    .push(format!("Template {tid} has no disk to copy."));
            }
            plan.efi = disks.iter().any(|d| d.kind == DiskKind::Efi);
            plan.tpm = disks.iter().any(|d| d.kind == DiskKind::Tpm);
            plan.cores = c.cores.map_or(
                parsed
                    .get("cores")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
                |v| v as i32,
            );
            plan.memory_mb = c.memory_mb.map_or(
                parsed
                    .get("memory")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(512),
                |v| v as i32,
            );
            let storages: BTreeSet<String> = disks
                .iter()
                .filter(|d| d.kind != DiskKind::CdRom)
                .filter_map(|d| d.volid.as_deref().and_then(split_volid).map(|v| v.storage))
                .collect();
            if storages.len() > 1 {
                plan.warnings.push(format!(
                    "The template's disks are on several storages ({}); the class uses the first.",
                    storages.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            let storage = storages.into_iter().next().unwrap_or_default();
            let status = client.storage_status(&t.node, &storage).await.ok();
            plan.storage_avail = status.as_ref().map_or(0, |s| s.avail as i64);
            let shared = status.as_ref().is_some_and(|s| s.shared);
            let plugin = status.map(|s| s.plugin).unwrap_or_default();
            (
                Some(t.node.clone()),
                parsed.macs().len().max(1),
                t.maxdisk as i64,
                storage,
                shared,
                plugin,
            )
        }
        None => {
            plan.cores = c.cores.unwrap_or(1) as i32;
            plan.memory_mb = c.memory_mb.unwrap_or(1024) as i32;
            let storage = cluster
                .storage_paths
                .lines()
                .find_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
                .unwrap_or_default();
            let probe = c
                .pinned_node
                .clone()
                .or_else(|| nodes.first().map(|n| n.node.clone()));
            let status = match probe {
                Some(n) => client.storage_status(&n, &storage).await.ok(),
                None => None,
            };
            plan.storage_avail = status.as_ref().map_or(0, |s| s.avail as i64);
            let shared = status.as_ref().is_some_and(|s| s.shared);
            let plugin = status.map(|s| s.plugin).unwrap_or_default();
            // Empty VMs get their full-size disk (thin qcow2, but it can fill up).
            let per_vm = i64::from(c.disk_gb.unwrap_or(8)) << 30;
            (
                None,
                1,
                per_vm * i64::from(c.students + 2),
                storage,
                shared,
                plugin,
            )
        }
    };
    plan.storage = storage.clone();
    let has_path = method::shell_reaches(&cluster, &storage);
    let method = match method::choose(&storage, &plugin, has_path, template_node.is_some()) {
        Ok((m, why)) => {
            plan.method = Some(m);
            plan.method_reason = why;
            m
        }
        Err(blocker) => {
            plan.blockers.push(blocker);
            DeployMethod::Overlay
        }
    };
    plan.space_bytes = match method {
        // Only new blocks cost space: the export (or the base) once, the rest per VM.
        DeployMethod::Overlay => disk_bytes + PER_VM_BYTES * i64::from(c.students + 2),
        // The class base and the teacher's VM are full copies, students thin clones.
        DeployMethod::LinkedClone => 2 * disk_bytes + PER_VM_BYTES * i64::from(c.students),
        DeployMethod::FullClone => disk_bytes * i64::from(c.students + 2),
    };
    if plan.storage_avail < plan.space_bytes {
        plan.blockers.push(format!(
            "Storage '{storage}' has {} MiB free; this class needs about {} MiB.",
            plan.storage_avail / MIB,
            plan.space_bytes / MIB
        ));
    }

    // Nodes the VMs may go to.
    let mut candidates: Vec<&pve::NodeInfo> = nodes.iter().collect();
    if let Some(pin) = &c.pinned_node {
        candidates.retain(|n| &n.node == pin);
        if candidates.is_empty() {
            plan.blockers.push(format!("Node {pin} is not online."));
        }
    }
    // Node-local storage: a linked clone stays on its base's node, so either every VM goes
    // to the template's node, or each other node first gets a copy of the class base.
    let mut spread = false;
    if !shared {
        if let Some(tn) = &template_node {
            let others: Vec<String> = nodes
                .iter()
                .filter(|n| &n.node != tn)
                .map(|n| n.node.clone())
                .collect();
            if method.is_clone() && !others.is_empty() {
                plan.spread = Some(SpreadOffer {
                    template_node: tn.clone(),
                    nodes: std::iter::once(tn.clone()).chain(others).collect(),
                    copy_bytes: disk_bytes,
                    copy_secs: (disk_bytes / MIGRATION_BYTES_PER_SEC) as u32 + 2,
                });
            }
            spread = c.base_per_node && plan.spread.is_some();
            if !spread {
                if c.pinned_node.as_ref().is_some_and(|p| p != tn) {
                    plan.blockers.push(format!(
                        "The template's disk is on node-local storage '{storage}' of {tn}: pin {tn}{}, or move the template to shared storage.",
                        if plan.spread.is_some() { ", ask for a copy of the class base on each node" } else { "" }
                    ));
                }
                // With an offer, the review's "Spread" line says it and what spreading costs.
                if candidates.len() > 1 && plan.spread.is_none() {
                    plan.warnings.push(format!(
                        "Storage '{storage}' is not shared: every VM goes to {tn}. Use shared storage to spread the class over nodes."
                    ));
                }
                candidates.retain(|n| &n.node == tn);
            }
        } else {
            candidates.truncate(1);
        }
    }
    if candidates.is_empty() && plan.blockers.is_empty() {
        plan.blockers
            .push("No online node can take the class.".into());
    }
    let mem = i64::from(plan.memory_mb) * MIB;
    if !candidates.is_empty() && candidates.iter().all(|n| (n.maxmem as i64) < mem) {
        plan.blockers.push(format!(
            "Each VM needs {} MiB of memory, more than any node has.",
            plan.memory_mb
        ));
    }
    if !candidates.is_empty() && candidates.iter().all(|n| n.maxcpu < plan.cores as u32) {
        plan.blockers.push(format!(
            "Each VM needs {} cores, more than any node has.",
            plan.cores
        ));
    }

    // Spread by free memory (then free CPU): each VM goes to the node with the most left.
    // With a base per node, the teacher's VM and the class base stay on the template's node
    // (full copies of a node-local template), wherever the students go.
    let total = c.students as usize + 2;
    let mut free: Vec<(String, i64, f64)> = candidates
        .iter()
        .map(|n| {
            (
                n.node.clone(),
                n.maxmem as i64 - n.mem as i64,
                f64::from(n.maxcpu) * (1.0 - n.cpu),
            )
        })
        .collect();
    let mut placed = Vec::with_capacity(total);
    for i in 0..total {
        let fixed = template_node
            .as_ref()
            .filter(|_| spread && (i == 0 || i + 1 == total));
        if let Some(tn) = fixed
            && !free.iter().any(|f| &f.0 == tn)
        {
            placed.push(tn.clone());
            continue;
        }
        let Some(best) = (match fixed {
            Some(tn) => free.iter_mut().find(|f| &f.0 == tn),
            None => free
                .iter_mut()
                .max_by(|a, b| a.1.cmp(&b.1).then(a.2.total_cmp(&b.2))),
        }) else {
            break;
        };
        best.1 -= mem;
        best.2 -= f64::from(plan.cores);
        placed.push(best.0.clone());
    }
    let mut copies: Vec<String> = Vec::new();
    if spread && let Some(tn) = &template_node {
        for n in placed.iter().skip(1).take(c.students as usize) {
            if n != tn && !copies.contains(n) {
                copies.push(n.clone());
            }
        }
        check_copies(&client, c, &mut plan, &placed, &copies, disk_bytes, method).await;
    }
    plan.space_bytes += disk_bytes * copies.len() as i64;
    plan.base_copies = copies.clone();
    let needed: i64 = mem * total as i64;
    let available: i64 = candidates
        .iter()
        .map(|n| n.maxmem as i64 - n.mem as i64)
        .sum();
    if !candidates.is_empty() && needed > available {
        plan.warnings.push(format!(
            "With every VM running the class needs {} MiB of memory; the nodes have {} MiB free.",
            needed / MIB,
            available.max(0) / MIB
        ));
    }
    let mut counts: Vec<(String, u32)> = Vec::new();
    for n in &placed {
        match counts.iter_mut().find(|(k, _)| k == n) {
            Some((_, c)) => *c += 1,
            None => counts.push((n.clone(), 1)),
        }
    }
    plan.nodes = counts;

    // A free block of 100 VMIDs, free in Proxmox right now and in our records.
    let mut used: BTreeSet<i32> = guests.iter().map(|g| g.vmid as i32).collect();
    used.extend(
        vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(cluster.id))
            .all(&services.db)
            .await?
            .into_iter()
            .map(|v| v.vmid),
    );
    let taken: BTreeSet<i32> = class::Entity::find()
        .filter(class::Column::ClusterId.eq(cluster.id))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| c.vmid_base)
        .collect();
    plan.vmid_base = (LOWEST_BLOCK..=HIGHEST_BLOCK)
        .map(|p| p * 100)
        .find(|b| !taken.contains(b) && used.range(*b..*b + 100).next().is_none())
        .unwrap_or(0);
    if plan.vmid_base == 0 {
        plan.blockers
            .push("No free block of 100 VMIDs is left on this cluster.".into());
    }
    Ok(Placement {
        plan,
        nodes: placed,
        copies,
        template_node,
        nics,
        method,
    })
}

/// A base per node: the VMID block must hold the copies beside the students, and each copy's
/// node must have the class's storage with room for the copy and the VMs cloned from it.
async fn check_copies(
    client: &pve::Client,
    c: &Checked,
    plan: &mut ClassPlan,
    placed: &[String],
    copies: &[String],
    disk_bytes: i64,
    method: DeployMethod,
) {
    if c.students as usize + copies.len() > MAX_STUDENTS as usize {
        plan.blockers.push(format!(
            "A VMID block holds {MAX_STUDENTS} student VMs and copies of the class base together; \
             {} students and {} copies do not fit.",
            c.students,
            copies.len()
        ));
    }
    let per_vm = match method {
        DeployMethod::FullClone => disk_bytes,
        _ => PER_VM_BYTES,
    };
    for node in copies {
        let vms = placed.iter().filter(|n| *n == node).count() as i64;
        let need = disk_bytes + per_vm * vms;
        match client.storage_status(node, &plan.storage).await {
            Ok(s) if (s.avail as i64) < need => plan.blockers.push(format!(
                "Storage '{}' on {node} has {} MiB free; its copy of the class base and {vms} VM(s) need about {} MiB.",
                plan.storage,
                s.avail as i64 / MIB,
                need / MIB
            )),
            Ok(_) => {}
            Err(e) => plan.blockers.push(format!(
                "Storage '{}' cannot be used on {node} ({e}); pin the class to a node that has it.",
                plan.storage
            )),
        }
    }
}

/// Enabled clusters with the nodes the inventory knows, for the wizard's choices.
pub async fn targets(
    services: &Services,
    user: &user::Model,
) -> Result<Vec<(i32, String, Vec<String>)>> {
    ensure_teacher(user)?;
    let clusters = cluster::Entity::find()
        .filter(cluster::Column::Enabled.eq(true))
        .order_by_asc(cluster::Column::Name)
        .all(&services.db)
        .await?;
    let mut out = Vec::new();
    for c in clusters {
        let nodes: BTreeSet<String> = vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(c.id))
            .all(&services.db)
            .await?
            .into_iter()
            .map(|v| v.node)
            .collect();
        out.push((c.id, c.name, nodes.into_iter().collect()));
    }
    Ok(out)
}
