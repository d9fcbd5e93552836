//! Creating guests: `POST /nodes/{n}/{qemu,lxc}`, `.../clone`, `.../template`, and the
//! volume allocation they share with `POST .../config`.
//!
//! * `<storage>:<GiB>` in a drive key allocates a new volume, in **sorted key order**
//!   (`efidisk0` → disk-0, `scsi0` → disk-1, `tpmstate0` → disk-2); EFI vars become
//!   `size=528K` qcow2, TPM state `size=4M` raw (proxmox/qemu-server).
//! * Create adds a `BC:24:11` MAC to NICs without one, `smbios1`, `vmgenid`, `meta` and
//!   `boot`. The VMID is reserved at once by a config holding `lock: create` (cloning:
//!   `# qmclone temporary file` + `lock: clone`), as PVE does; the task fills it in.
//! * Clone: templates clone linked by default (`qemu-img create -b ../9000/base-...`), other
//!   guests full (`qemu-img convert`); the UPID's id is the **source** VMID.

mod clone;
mod template;

pub(crate) use clone::clone;
pub(crate) use template::template;

use serde_json::json;

use super::Cx;
use super::authn::{require_pool_exists, require_vm, require_vm_allocate};
use super::params;
use super::reply::{ApiError, ApiResult, ok};
use super::tasks::spawn;
use crate::model::conf::{Conf, Section, format_size, property_string};
use crate::model::store::Kind;
use crate::model::{Inner, Power, State, disks, mac, uuid};

/// Turns allocation requests (`local:32,format=qcow2`) into allocated volumes; fills in the
/// size of ISO cdroms. Returns task log lines.
pub(crate) fn allocate_drives(
    st: &State,
    inner: &mut Inner,
    vmid: u32,
    section: &mut Section,
) -> Result<Vec<String>, String> {
    let mut used: Vec<String> = inner
        .store
        .get(vmid)
        .map(|g| {
            g.conf
                .main
                .values()
                .chain(g.conf.snapshots.values().flat_map(|s| s.values()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut log = Vec::new();
    let keys: Vec<String> = section.keys().cloned().collect();
    for key in keys {
        let Some(value) = section.get(&key).cloned() else {
            continue;
        };
        if !disks::is_drive_key(&key) {
            continue;
        }
        let (first, pairs) = property_string(&value);
        let first = first.unwrap_or("");
        if value.contains("media=cdrom") {
            if let Some((sid, volname)) = disks::split_volid(first)
                && !pairs.iter().any(|(k, _)| *k == "size")
                && let Some(path) = inner
                    .storage(sid)
                    .and_then(|s| disks::vol_path(&st.cfg.root, s, volname))
            {
                let bytes = std::fs::metadata(&path)
                    .map_err(|_| format!("volume '{first}' does not exist"))?
                    .len();
                section.insert(
                    key.clone(),
                    format!("{value},size={}M", bytes.div_ceil(1 << 20)),
                );
            }
            continue;
        }
        let Some((sid, size)) = first.split_once(':') else {
            continue;
        };
        let Ok(gib) = size.parse::<f64>() else {
            continue;
        };
        let storage = inner
            .storage(sid)
            .cloned()
            .ok_or_else(|| format!("storage '{sid}' does not exist"))?;
        let (format, bytes, extra) = match key.as_str() {
            "efidisk0" => ("qcow2", 528u64 << 10, None),
            "tpmstate0" => ("raw", 4u64 << 20, None),
            _ => {
                let fmt = pairs
                    .iter()
                    .find(|(k, _)| *k == "format")
                    .map_or("qcow2", |(_, v)| *v);
                (fmt, (gib * f64::from(1u32 << 30)) as u64, None::<String>)
            }
        };
        let format = if storage.path.is_none() {
            "raw"
        } else {
            format
        };
        let index = disks::next_index(vmid, used.iter().map(String::as_str));
        let node = inner
            .store
            .get(vmid)
            .map(|g| g.node.clone())
            .unwrap_or_default();
        let volid = disks::alloc(
            &st.cfg.root,
            &storage,
            &mut inner.blocks,
            &node,
            vmid,
            index,
            format,
            bytes,
        )
        .map_err(|e| format!("unable to create image: {e}"))?;
        used.push(volid.clone());
        let mut parts = vec![volid.clone()];
        parts.extend(
            pairs
                .iter()
                .filter(|(k, _)| *k != "format" && *k != "size")
                .map(|(k, v)| format!("{k}={v}")),
        );
        parts.push(format!("size={}", format_size(bytes)));
        if let Some(extra) = extra {
            parts.push(extra);
        }
        section.insert(key.clone(), parts.join(","));
        log.push(format!(
            "{key}: successfully created disk '{volid},size={}'",
            format_size(bytes)
        ));
    }
    Ok(log)
}

/// `net0=virtio,bridge=vmbr0` → `virtio=BC:24:11:..,bridge=vmbr0` (QEMU) or `hwaddr=` (LXC).
fn add_macs(kind: Kind, section: &mut Section) {
    for (key, value) in section.iter_mut().filter(|(k, _)| k.starts_with("net")) {
        let _ = key;
        match kind {
            Kind::Qemu => {
                let mut parts: Vec<String> = value.split(',').map(String::from).collect();
                if let Some(first) = parts.first_mut()
                    && !first.contains('=')
                {
                    *first = format!("{first}={}", mac());
                }
                *value = parts.join(",");
            }
            Kind::Lxc if !value.contains("hwaddr=") => {
                value.push_str(&format!(",hwaddr={}", mac()));
                if !value.contains("type=") {
                    value.push_str(",type=veth");
                }
            }
            Kind::Lxc => {}
        }
    }
}

const CREATE_ONLY: &[&str] = &[
    "vmid",
    "storage",
    "pool",
    "start",
    "unique",
    "archive",
    "force",
    "live-restore",
    "ostemplate",
    "password",
    "ssh-public-keys",
];

pub(crate) fn create(cx: &Cx, node: &str, kind: Kind) -> ApiResult {
    let text =
        cx.p.get("vmid")
            .ok_or_else(|| ApiError::param("vmid", "property is missing and it is not optional"))?;
    let vmid = params::vmid("vmid", text)?;
    let mut section = Section::new();
    let mut errors = Vec::new();
    for key in cx.p.keys().filter(|k| !CREATE_ONLY.contains(k)) {
        match super::qemu_config::check(kind, key, cx.p.get(key).unwrap_or_default()) {
            Ok(v) => {
                section.insert(key.to_string(), v);
            }
            Err(e) => errors.push((key.to_string(), e)),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Param(errors));
    }
    let start = cx.p.flag("start")?;
    let pool = cx.p.get("pool").map(str::to_string);
    let mut inner = cx.st.lock();
    inner.refresh();
    require_pool_exists(&inner, pool.as_deref())?;
    if start && kind == Kind::Qemu {
        // qemu-server checks VM.PowerMgmt up front when the guest is to start after creation.
        require_vm(&inner, &cx.ident, vmid, pool.as_deref(), "VM.PowerMgmt")?;
    }
    require_vm_allocate(&inner, &cx.ident, vmid, pool.as_deref())?;
    if let Some(g) = inner.store.get(vmid) {
        let what = if kind == Kind::Qemu { "VM" } else { "CT" };
        return Err(ApiError::msg(format!(
            "unable to create {what} {vmid} - {what} {vmid} already exists on node '{}'",
            g.node
        )));
    }
    if kind == Kind::Lxc && cx.p.get("ostemplate").is_none() {
        return Err(ApiError::param(
            "ostemplate",
            "property is missing and it is not optional",
        ));
    }
    // Reserve the VMID at once, as PVE's create_and_lock_config does.
    let reserve = Conf {
        main: [("lock".to_string(), "create".to_string())]
            .into_iter()
            .collect(),
        ..Conf::default()
    };
    inner
        .store
        .write(vmid, node, kind, &reserve)
        .map_err(|e| ApiError::msg(e.to_string()))?;
    let node2 = node.to_string();
    let now = cx.st.now();
    let job = Box::new(
        move |inner: &mut Inner, st: &State| -> Result<Vec<String>, String> {
            add_macs(kind, &mut section);
            let log = match allocate_drives(st, inner, vmid, &mut section) {
                Ok(log) => log,
                Err(e) => {
                    let _ = inner.store.remove(vmid);
                    return Err(e);
                }
            };
            if kind == Kind::Qemu {
                section.entry("numa".into()).or_insert_with(|| "0".into());
                section
                    .entry("smbios1".into())
                    .or_insert_with(|| format!("uuid={}", uuid()));
                section.entry("vmgenid".into()).or_insert_with(uuid);
                section
                    .entry("meta".into())
                    .or_insert_with(|| format!("creation-qemu=10.0.2,ctime={now}"));
                if !section.contains_key("boot") {
                    let order: Vec<&str> = section
                        .keys()
                        .filter(|k| {
                            disks::is_drive_key(k)
                                && *k != "efidisk0"
                                && *k != "tpmstate0"
                                && !k.starts_with("unused")
                        })
                        .chain(section.keys().filter(|k| k.starts_with("net")))
                        .map(String::as_str)
                        .collect();
                    let order = order.join(";");
                    section.insert("boot".into(), format!("order={order}"));
                }
            } else {
                section
                    .entry("hostname".into())
                    .or_insert_with(|| format!("CT{vmid}"));
                section
                    .entry("arch".into())
                    .or_insert_with(|| "amd64".into());
            }
            let conf = Conf {
                main: section,
                ..Conf::default()
            };
            inner
                .store
                .write(vmid, &node2, kind, &conf)
                .map_err(|e| e.to_string())?;
            if let Some(p) = pool.and_then(|p| inner.pools.get_mut(&p)) {
                p.vms.push(vmid);
            }
            if start {
                let rt = inner.rt(vmid);
                rt.power = Power::Running;
                rt.started = st.now();
                rt.since = Some(std::time::Instant::now());
            }
            Ok(log)
        },
    );
    let task = if kind == Kind::Qemu {
        "qmcreate"
    } else {
        "vzcreate"
    };
    let upid = spawn(
        cx,
        &mut inner,
        node,
        task,
        Some(vmid),
        &vmid.to_string(),
        1.0,
        job,
    );
    ok(json!(upid))
}
