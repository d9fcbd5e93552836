//! `POST /nodes/{n}/qemu/{vmid}/migrate`: offline migration of a stopped VM or template,
//! local disks included, as a `qmigrate` task (proxmox/qemu-server 9.2 `API2/Qemu.pm`
//! `migrate_vm`, `QemuMigrate.pm` `scan_local_volumes`/`phase1`).
//!
//! Before the task: `VM.Migrate` on the guest, `target is local node.`, an unknown node,
//! the config lock (the task holds `lock: migrate` while it runs), `can't migrate running VM without --online`, and for `targetstorage`
//! (one storage, or `source:target` pairs) `Datastore.AllocateSpace` on each target storage
//! that must hold images. In the task, each volume on node-local storage is checked as
//! `scan_local_volumes` does: a base that linked clones use ("referenced by linked
//! clone(s)") or a linked clone whose volume names its base ("as it's a clone of") stops
//! the migration. Log lines are stamped `%F %H:%M:%S` as `AbstractMigrate.pm` prints them;
//! a failure logs `ERROR: migration aborted (duration ...): <why>` and the task's exit
//! status is `migration aborted`. Volumes are then copied to the target node (the
//! copy of a thin snapshot is a whole volume), the sources freed, and the config moved.
//! Shared storages (rbd, nfs) need no copy. The task lasts 2 s plus the used bytes at
//! 110 MiB/s (a 1 GbE migration network).
//!
//! Deviations: live migration (`online=1` on a running VM) answers 501; `local` (dir) has
//! one folder for every node here, so its files stay where they are and only the config moves.

use std::collections::BTreeMap;

use serde_json::json;

use super::Cx;
use super::authn::require;
use super::reply::{ApiError, ApiResult, log_time, ok};
use super::tasks::spawn;
use crate::model::store::Kind;
use crate::model::{Inner, Power, State, Storage, blocks, disks};

pub(crate) fn migrate(cx: &Cx, node: &str, kind: Kind, vmid: u32) -> ApiResult {
    if kind != Kind::Qemu {
        return Err(ApiError::NotImplemented(
            "container migration is not simulated".into(),
        ));
    }
    let target =
        cx.p.get("target")
            .ok_or_else(|| ApiError::param("target", "property is missing and it is not optional"))?
            .to_string();
    let online = cx.p.flag("online")?;
    let mut inner = cx.st.lock();
    inner.refresh();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Migrate")?;
    if target == node {
        return Err(ApiError::param("target", "target is local node."));
    }
    if inner.node(&target).is_none() {
        return Err(ApiError::msg(format!("no such cluster node '{target}'")));
    }
    let g = inner
        .store
        .get(vmid)
        .cloned()
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    if let Some(lock) = g.conf.get("lock") {
        return Err(ApiError::msg(format!("VM is locked ({lock})")));
    }
    if inner.rt(vmid).power != Power::Stopped {
        if !online {
            return Err(ApiError::msg("can't migrate running VM without --online"));
        }
        return Err(ApiError::NotImplemented(
            "live migration is not simulated".into(),
        ));
    }
    let map = storage_map(&inner, &cx.ident, cx.p.get("targetstorage"))?;
    let volumes = local_volumes(&inner, &g.conf.main);
    let bytes: u64 = volumes
        .iter()
        .filter_map(|(s, volname)| {
            disks::used_bytes(&cx.st.cfg.root, s, &inner.blocks, node, volname)
        })
        .sum();
    let secs = 2.0 + bytes as f64 / (110.0 * 1024.0 * 1024.0);
    // `phase1` writes `lock: migrate` into the config for the migration's length, and
    // `phase1_cleanup` removes it again if the migration fails.
    let mut locked = g.conf.clone();
    locked.main.insert("lock".into(), "migrate".into());
    inner
        .store
        .write(vmid, node, Kind::Qemu, &locked)
        .map_err(|e| ApiError::msg(e.to_string()))?;
    let source = node.to_string();
    let started = cx.st.now();
    let upid = spawn(
        cx,
        &mut inner,
        node,
        "qmigrate",
        Some(vmid),
        &vmid.to_string(),
        secs,
        Box::new(move |inner: &mut Inner, st: &State| {
            let mut log = Vec::new();
            let result = run(inner, &mut log, vmid, &source, &target, &map);
            if result.is_err()
                && let Some(g) = inner.store.get(vmid).cloned()
            {
                let mut conf = g.conf;
                conf.main.remove("lock");
                let _ = inner.store.write(vmid, &source, Kind::Qemu, &conf);
            }
            // AbstractMigrate: every line stamped; an error ends as "migration aborted".
            let now = st.now();
            let stamp = log_time(now);
            let took = now.saturating_sub(started);
            let duration = format!("{:02}:{:02}:{:02}", took / 3600, took / 60 % 60, took % 60);
            let mut lines: Vec<String> = log.iter().map(|l| format!("{stamp} {l}")).collect();
            match result {
                Ok(()) => {
                    lines.push(format!(
                        "{stamp} migration finished successfully (duration {duration})"
                    ));
                    Ok(lines)
                }
                Err(e) => {
                    lines.push(format!(
                        "{stamp} ERROR: migration aborted (duration {duration}): {e}"
                    ));
                    lines.push("migration aborted".into());
                    Err(lines.join("\n"))
                }
            }
        }),
    );
    ok(json!(upid))
}

/// Source storage id → target storage id; `*` for "every storage".
type StorageMap = BTreeMap<String, String>;

/// Parses `targetstorage` (`local-lvm`, or `local-lvm:ceph,local-zfs:ceph`) and checks each
/// target as `$check_storage_access_migrate` does.
fn storage_map(
    inner: &Inner,
    ident: &super::authn::Ident,
    param: Option<&str>,
) -> Result<StorageMap, ApiError> {
    let mut map = StorageMap::new();
    let Some(param) = param else {
        return Ok(map);
    };
    for entry in param.split(',').filter(|e| !e.is_empty()) {
        let (from, to) = match entry.split_once(':') {
            Some((from, to)) => (from.to_string(), to.to_string()),
            None => ("*".to_string(), entry.to_string()),
        };
        let s = inner.storage(&to).ok_or_else(|| {
            ApiError::param(
                "targetstorage",
                format!("failed to parse storage map: storage '{to}' does not exist"),
            )
        })?;
        require(
            inner,
            ident,
            &format!("/storage/{to}"),
            "Datastore.AllocateSpace",
        )?;
        if !s.content.split(',').any(|c| c == "images") {
            return Err(ApiError::msg(format!(
                "storage '{to}' does not support vm images"
            )));
        }
        map.insert(from, to);
    }
    Ok(map)
}

/// The guest's volumes on node-local storages, as (storage, volume name).
fn local_volumes(inner: &Inner, section: &crate::model::conf::Section) -> Vec<(Storage, String)> {
    let mut out: Vec<(Storage, String)> = Vec::new();
    for (key, value) in section {
        if !disks::is_drive_key(key) {
            continue;
        }
        let Some((sid, volname)) = disks::volid_of(value).and_then(disks::split_volid) else {
            continue;
        };
        if let Some(s) = inner.storage(sid).filter(|s| !s.shared)
            && !out.iter().any(|(o, v)| o.id == s.id && v == volname)
        {
            out.push((s.clone(), volname.to_string()));
        }
    }
    out
}

/// The task: scan, copy, free, move the config.
fn run(
    inner: &mut Inner,
    log: &mut Vec<String>,
    vmid: u32,
    source: &str,
    target: &str,
    map: &StorageMap,
) -> Result<(), String> {
    let g = inner.store.get(vmid).cloned().ok_or("config vanished")?;
    log.push(format!(
        "starting migration of VM {vmid} to node '{target}' (127.0.0.1)"
    ));
    let volumes = local_volumes(inner, &g.conf.main);
    let mut refused = false;
    for (s, volname) in &volumes {
        let volid = format!("{}:{volname}", s.id);
        log.push(format!("found local disk '{volid}' (attached)"));
        if blocks::is_block(s) && inner.blocks.is_base_and_used(s, source, volname) {
            log.push(format!(
                "can't migrate local disk '{volid}': referenced by linked clone(s)"
            ));
            refused = true;
        }
    }
    if refused {
        return Err("can't migrate VM - check log".into());
    }
    for (s, volname) in &volumes {
        let basename = match s.plugintype {
            "zfspool" | "rbd" => volname.split_once('/').map(|(b, _)| b.to_string()),
            _ if !blocks::is_block(s) => {
                let parts: Vec<&str> = volname.split('/').collect();
                (parts.len() == 4).then(|| parts[1].to_string())
            }
            _ => None,
        };
        if let Some(base) = basename {
            return Err(format!(
                "can't migrate '{}:{volname}' as it's a clone of '{base}'",
                s.id
            ));
        }
    }
    if !volumes.is_empty() {
        log.push("copying local disk images".into());
    }
    let mut conf = g.conf.clone();
    conf.main.remove("lock");
    for (s, volname) in &volumes {
        let volid = format!("{}:{volname}", s.id);
        let to_id = map
            .get(&s.id)
            .or_else(|| map.get("*"))
            .cloned()
            .unwrap_or_else(|| s.id.clone());
        let to = inner
            .storage(&to_id)
            .cloned()
            .ok_or_else(|| format!("storage '{to_id}' does not exist"))?;
        let new_volid = if blocks::is_block(s) && blocks::is_block(&to) {
            let name = inner
                .blocks
                .migrate(s, source, volname, &to, target)
                .map_err(|e| {
                    format!("storage migration for '{volid}' to storage '{to_id}' failed - {e}")
                })?;
            format!("{to_id}:{name}")
        } else if s.id == to.id {
            // `local` (dir): one folder for every node in the simulator; nothing to copy.
            volid.clone()
        } else {
            return Err(format!(
                "storage migration for '{volid}' to storage '{to_id}' failed - not simulated between file and block storages"
            ));
        };
        log.push(format!("volume '{volid}' is '{new_volid}' on the target"));
        for value in conf.main.values_mut() {
            if disks::volid_of(value) == Some(volid.as_str()) {
                *value = value.replacen(&volid, &new_volid, 1);
            }
        }
    }
    inner
        .store
        .write(vmid, source, Kind::Qemu, &conf)
        .map_err(|e| e.to_string())?;
    inner
        .store
        .relocate(vmid, target)
        .map_err(|e| format!("Failed to move config to node '{target}' - rename failed: {e}"))?;
    Ok(())
}
