//! `POST .../clone`: linked clones of templates (qcow2 backing files) or full copies; the
//! target VMID is reserved at once with PVE's `# qmclone temporary file` + `lock: clone`
//! config, and the task's UPID names the *source* VMID.

use serde_json::json;

use crate::api::Cx;
use crate::api::authn::{require, require_pool_exists, require_vm_allocate};
use crate::api::params;
use crate::api::reply::{ApiError, ApiResult, ok};
use crate::api::tasks::spawn;
use crate::model::blocks::{self, Feature};
use crate::model::conf::Conf;
use crate::model::store::Kind;
use crate::model::{Inner, State, disks, mac, uuid};

pub(crate) fn clone(cx: &Cx, node: &str, kind: Kind, vmid: u32) -> ApiResult {
    let newid_text = cx
        .p
        .get("newid")
        .ok_or_else(|| ApiError::param("newid", "property is missing and it is not optional"))?;
    let newid = params::vmid("newid", newid_text)?;
    let target = cx.p.get("target").unwrap_or(node).to_string();
    let name =
        cx.p.get("name")
            .or(cx.p.get("hostname"))
            .map(str::to_string);
    let description = cx.p.get("description").map(str::to_string);
    let pool = cx.p.get("pool").map(str::to_string);
    let snapname = cx.p.get("snapname").map(str::to_string);
    let storage = cx.p.get("storage").map(str::to_string);
    let mut inner = cx.st.lock();
    inner.refresh();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Clone")?;
    require_vm_allocate(&inner, &cx.ident, newid, pool.as_deref())?;
    require_pool_exists(&inner, pool.as_deref())?;
    let src = inner
        .store
        .get(vmid)
        .cloned()
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    let template = src.conf.is_template();
    let full = match cx.p.get("full") {
        Some(v) => params::parse_bool(v).ok_or_else(|| {
            ApiError::param("full", format!("type check ('boolean') failed - got '{v}'"))
        })?,
        None => !template,
    };
    if !full && storage.is_some() {
        return Err(ApiError::msg(
            "parameter 'storage' not allowed for linked clones",
        ));
    }
    if !full && cx.p.get("format").is_some() {
        return Err(ApiError::msg(
            "parameter 'format' not allowed for linked clones",
        ));
    }
    if inner.node(&target).is_none() {
        return Err(ApiError::msg(format!("no such node '{target}'")));
    }
    let elsewhere = target != node;
    if let Some(sid) = &storage {
        let s = inner
            .storage(sid)
            .ok_or_else(|| ApiError::msg(format!("storage '{sid}' does not exist")))?;
        if !s.content.split(',').any(|c| c == "images") {
            return Err(ApiError::param(
                "storage",
                format!("storage '{sid}' does not support vm images"),
            ));
        }
        if elsewhere && !s.shared {
            return Err(ApiError::msg(format!(
                "can't clone to non-shared storage '{sid}'"
            )));
        }
    }
    if let Some(lock) = src.conf.get("lock") {
        return Err(ApiError::msg(format!("VM is locked ({lock})")));
    }
    let source = match &snapname {
        Some(s) => src
            .conf
            .snapshots
            .get(s)
            .cloned()
            .ok_or_else(|| ApiError::msg(format!("snapshot '{s}' does not exist")))?,
        None => src.conf.main.clone(),
    };
    let shared_vm = check_drives(
        &inner,
        &cx.ident,
        &source,
        full,
        snapname.as_deref(),
        storage.as_deref(),
    )?;
    if elsewhere && !shared_vm {
        return Err(ApiError::msg(format!(
            "can't clone VM to node '{target}' (VM uses local storage)"
        )));
    }
    if inner.store.contains(newid) {
        return Err(ApiError::msg(format!(
            "unable to create VM {newid}: config file already exists"
        )));
    }
    let src_node = src.node.clone();
    let secs = clone_secs(&inner, &cx.st.cfg.root, &source, &src_node, full);
    std::fs::write(
        inner.store.path(&target, kind, newid),
        "# qmclone temporary file\nlock: clone\n",
    )
    .map_err(|e| ApiError::msg(e.to_string()))?;
    inner.refresh();
    let job = Box::new(
        move |inner: &mut Inner, st: &State| -> Result<Vec<String>, String> {
            // As qemu-server's clone worker: free the volumes made so far, then the config.
            let fail = |inner: &mut Inner, made: &[String], e: String| {
                for volid in made {
                    if let Some((sid, volname)) = disks::split_volid(volid)
                        && let Some(s) = inner.storage(sid).cloned()
                    {
                        let _ =
                            disks::remove(&st.cfg.root, &s, &mut inner.blocks, &src_node, volname);
                    }
                }
                let _ = inner.store.remove(newid);
                Err(e)
            };
            let mut section = source;
            for k in [
                "template",
                "parent",
                "lock",
                "snaptime",
                "vmstate",
                "runningmachine",
                "runningcpu",
            ] {
                section.remove(k);
            }
            let old_name = section
                .get("name")
                .cloned()
                .unwrap_or_else(|| format!("VM {vmid}"));
            match kind {
                Kind::Qemu => section.insert(
                    "name".into(),
                    name.unwrap_or_else(|| format!("Copy-of-VM-{old_name}")),
                ),
                Kind::Lxc => section.insert(
                    "hostname".into(),
                    name.unwrap_or_else(|| format!("Copy-of-CT-{old_name}")),
                ),
            };
            if let Some(d) = description {
                section.insert("description".into(), d);
            }
            if kind == Kind::Qemu {
                section.insert("smbios1".into(), format!("uuid={}", uuid()));
                section.insert("vmgenid".into(), uuid());
            }
            for (_, v) in section.iter_mut().filter(|(k, _)| k.starts_with("net")) {
                let mut parts: Vec<String> = v.split(',').map(String::from).collect();
                for p in parts.iter_mut() {
                    if let Some((model, m)) = p.split_once('=')
                        && m.len() == 17
                        && m.matches(':').count() == 5
                    {
                        *p = format!("{model}={}", mac());
                    }
                }
                *v = parts.join(",");
            }
            let mut log = vec![format!(
                "create {} clone of drives",
                if full { "full" } else { "linked" }
            )];
            let mut index = 0;
            let mut made: Vec<String> = Vec::new();
            let keys: Vec<String> = section
                .keys()
                .filter(|k| disks::is_drive_key(k) && !k.starts_with("unused"))
                .cloned()
                .collect();
            for key in keys {
                let value = section[&key].clone();
                let Some(volid) = disks::volid_of(&value).map(str::to_string) else {
                    continue;
                };
                let Some((sid, volname)) = disks::split_volid(&volid) else {
                    continue;
                };
                let Some(src_storage) = inner.storage(sid).cloned() else {
                    return fail(inner, &made, format!("storage '{sid}' does not exist"));
                };
                let size = crate::model::metrics::disk_size(&value).unwrap_or(1 << 30);
                let full_copy = full || key == "tpmstate0";
                let result = if full_copy {
                    let dst = storage
                        .as_deref()
                        .and_then(|s| inner.storage(s).cloned())
                        .unwrap_or_else(|| src_storage.clone());
                    disks::copy(
                        &st.cfg.root,
                        &src_storage,
                        volname,
                        &dst,
                        &mut inner.blocks,
                        &src_node,
                        newid,
                        index,
                        size,
                    )
                } else {
                    disks::link(
                        &st.cfg.root,
                        &src_storage,
                        &mut inner.blocks,
                        &src_node,
                        volname,
                        newid,
                        index,
                    )
                };
                match result {
                    Ok(new_volid) => {
                        made.push(new_volid.clone());
                        log.push(format!(
                            "clone {volid}: {key} snapname={} -> {new_volid}",
                            snapname.as_deref().unwrap_or("")
                        ));
                        let rest: Vec<&str> = value.split(',').skip(1).collect();
                        let mut parts = vec![new_volid];
                        parts.extend(rest.iter().map(|s| s.to_string()));
                        section.insert(key.clone(), parts.join(","));
                    }
                    Err(e) => return fail(inner, &made, format!("clone failed: {e}")),
                }
                index += 1;
            }
            let conf = Conf {
                main: section,
                ..Conf::default()
            };
            if let Err(e) = inner.store.write(newid, &target, kind, &conf) {
                return fail(inner, &made, e.to_string());
            }
            if let Some(p) = pool.and_then(|p| inner.pools.get_mut(&p)) {
                p.vms.push(newid);
            }
            Ok(log)
        },
    );
    let task = if kind == Kind::Qemu {
        "qmclone"
    } else {
        "vzclone"
    };
    let upid = spawn(
        cx,
        &mut inner,
        node,
        task,
        Some(newid),
        &vmid.to_string(),
        secs,
        job,
    );
    ok(json!(upid))
}

/// qemu-server's `$check_storage_access_clone` and the per-drive feature checks of
/// `clone_vm` (`API2/Qemu.pm`), before the worker forks: `Datastore.AllocateSpace` on every
/// storage a disk lands on, and whether each storage can make the clone asked for. Returns
/// whether every volume is on shared storage (only then may the clone go to another node).
fn check_drives(
    inner: &Inner,
    ident: &crate::api::authn::Ident,
    source: &crate::model::conf::Section,
    full: bool,
    snapname: Option<&str>,
    target_storage: Option<&str>,
) -> Result<bool, ApiError> {
    let mut shared_vm = true;
    for (key, value) in source {
        if !disks::is_drive_key(key) || key.starts_with("unused") {
            continue;
        }
        let cdrom = value.contains("media=cdrom");
        let first = value.split(',').next().unwrap_or("");
        if first.is_empty() || first == "none" || first == "cdrom" {
            continue;
        }
        let Some((sid, volname)) = disks::split_volid(first) else {
            continue;
        };
        let src = inner
            .storage(sid)
            .ok_or_else(|| ApiError::msg(format!("storage '{sid}' does not exist")))?;
        shared_vm &= src.shared;
        if cdrom {
            continue;
        }
        let dst = target_storage.unwrap_or(sid);
        require(
            inner,
            ident,
            &format!("/storage/{dst}"),
            "Datastore.AllocateSpace",
        )?;
        let snap = snapname.is_some();
        let of = if snap { " a snapshot of" } else { "" };
        let msg = format!("clone feature is not supported for{of} '{first}' ({key})");
        if full || key == "tpmstate0" {
            if !blocks::has_feature(src.plugintype, volname, Feature::Copy, snap) {
                return Err(ApiError::msg(format!("Full {msg}")));
            }
        } else if !blocks::has_feature(src.plugintype, volname, Feature::Clone, snap) {
            return Err(ApiError::msg(format!("Linked {msg}")));
        }
    }
    Ok(shared_vm)
}

/// How long the clone task runs (before `task_time_scale`): a linked clone is a thin
/// snapshot or a qcow2 overlay per disk, near-constant; a full clone copies what the disks
/// hold, at about 400 MiB/s (a local NVMe thin pool; `qemu-img convert` skips zeroes).
fn clone_secs(
    inner: &Inner,
    root: &std::path::Path,
    source: &crate::model::conf::Section,
    node: &str,
    full: bool,
) -> f64 {
    let mut bytes = 0u64;
    let mut drives = 0u32;
    for (key, value) in source {
        if !disks::is_drive_key(key) || key.starts_with("unused") {
            continue;
        }
        let Some((sid, volname)) = disks::volid_of(value).and_then(disks::split_volid) else {
            continue;
        };
        drives += 1;
        if let Some(s) = inner.storage(sid) {
            bytes += disks::used_bytes(root, s, &inner.blocks, node, volname).unwrap_or(0);
        }
    }
    if full {
        1.0 + bytes as f64 / (400.0 * 1024.0 * 1024.0)
    } else {
        1.0 + 0.5 * f64::from(drives.max(1))
    }
}
