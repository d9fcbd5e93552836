//! `GET/POST/PUT .../config` and `GET .../pending` (proxmox/qemu-server `API2/Qemu.pm`
//! `update_vm_api`, pve-container `API2/LXC/Config.pm`).
//!
//! * GET types values as the schema does: integer keys become JSON numbers, booleans 0/1,
//!   everything else (property strings, `number` keys like `cpulimit`, and `memory` since
//!   PVE 8) strings; `digest` is the SHA-1 of the whole file; `snapshot=<name>` answers that
//!   section.
//! * Writes: schema check (400 with one message per bad key), privilege, config flock (wait,
//!   then `can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout`), `digest`
//!   check, `lock:` check, then apply. PUT is synchronous and refuses allocation; POST runs
//!   a `qmconfig` task (or answers `null` when `background_delay` is given and it finished).
//! * Writes to a running VM go through `[PENDING]` (see `pending`); `GET config` merges
//!   pending values unless `current=1`. LXC changes apply directly (deviation: PVE keeps
//!   some of them pending too).

mod pending;
mod resize;
mod schema;

pub(crate) use pending::{apply_pending, pending};
pub(crate) use resize::resize;

use schema::{CONTROL, key_type};
pub(crate) use schema::{check, typed};

use std::time::Duration;

use serde_json::{Value, json};

use super::Cx;
use super::authn::require;
use super::qemu_create::allocate_drives;
use super::reply::{ApiError, ApiResult, ok};
use super::tasks::spawn;
use crate::model::conf::Section;
use crate::model::store::Kind;
use crate::model::{Inner, State};

pub(crate) fn get(cx: &Cx, kind: Kind, vmid: u32) -> ApiResult {
    let inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Audit")?;
    let g = inner
        .store
        .get(vmid)
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    let merged = pending::merged(&g.conf);
    let section = match cx.p.get("snapshot") {
        Some(name) => g
            .conf
            .snapshots
            .get(name)
            .ok_or_else(|| ApiError::msg(format!("snapshot '{name}' does not exist")))?,
        None if cx.p.flag("current")? => &g.conf.main,
        None => &merged,
    };
    let mut m = typed(kind, section);
    m.insert("digest".into(), json!(g.digest));
    ok(Value::Object(m))
}

/// Keys to set and keys to delete.
type Changes = (Vec<(String, String)>, Vec<String>);

/// Checks parameter names and types; all problems at once, as the schema validator does.
fn validate(cx: &Cx, kind: Kind) -> Result<Changes, ApiError> {
    let mut errors = Vec::new();
    let mut set = Vec::new();
    for key in cx.p.keys() {
        if CONTROL.contains(&key) {
            continue;
        }
        match check(kind, key, cx.p.get(key).unwrap_or_default()) {
            Ok(v) => set.push((key.to_string(), v)),
            Err(e) => errors.push((key.to_string(), e)),
        }
    }
    let delete: Vec<String> =
        cx.p.get("delete")
            .unwrap_or("")
            .split([',', ';', ' '])
            .filter(|s| !s.is_empty())
            .map(Into::into)
            .collect();
    for d in &delete {
        if key_type(kind, d).is_none() {
            errors.push((
                "delete".into(),
                format!("invalid format - invalid configuration ID '{d}'"),
            ));
        }
    }
    if errors.is_empty() {
        Ok((set, delete))
    } else {
        Err(ApiError::Param(errors))
    }
}

fn privilege_for(key: &str) -> &'static str {
    match key {
        "cores" | "sockets" | "vcpus" | "cpu" | "cpulimit" | "cpuunits" | "numa" | "affinity" => {
            "VM.Config.CPU"
        }
        "memory" | "balloon" | "shares" | "swap" => "VM.Config.Memory",
        k if k.starts_with("net") => "VM.Config.Network",
        k if crate::model::disks::is_drive_key(k) => "VM.Config.Disk",
        _ => "VM.Config.Options",
    }
}

/// The flock path PVE names in its timeout message.
fn lock_path(kind: Kind, vmid: u32) -> String {
    match kind {
        Kind::Qemu => format!("/var/lock/qemu-server/lock-{vmid}.conf"),
        Kind::Lxc => format!("/run/lock/lxc/pve-config-{vmid}.lock"),
    }
}

/// Waits for the config flock like `lock_config` (10 s in PVE).
async fn wait_flock(cx: &Cx, kind: Kind, vmid: u32) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + cx.st.cfg.lock_timeout;
    loop {
        if !cx.st.lock().rt(vmid).flock {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::msg(format!(
                "can't lock file '{}' - got timeout",
                lock_path(kind, vmid)
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Digest and lock checks shared by PUT and POST.
fn check_current(cx: &Cx, inner: &Inner, vmid: u32) -> Result<(), ApiError> {
    let g = inner
        .store
        .get(vmid)
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    if let Some(digest) = cx.p.get("digest")
        && digest != g.digest
    {
        return Err(ApiError::msg(
            "detected modified configuration - file changed by other user? Try again.",
        ));
    }
    if let Some(lock) = g.conf.get("lock")
        && !cx.p.flag("skiplock")?
    {
        return Err(ApiError::msg(format!("VM is locked ({lock})")));
    }
    Ok(())
}

/// `virtio,bridge=vmbr0` → `virtio=BC:24:11:…,bridge=vmbr0` for a QEMU `netN` (an LXC NIC's
/// `hwaddr` is left to its own path).
fn with_mac(kind: Kind, key: &str, value: &str) -> String {
    let is_net = key
        .strip_prefix("net")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if kind != Kind::Qemu || !is_net {
        return value.to_string();
    }
    let mut parts: Vec<String> = value.split(',').map(String::from).collect();
    if let Some(first) = parts.first_mut()
        && !first.contains('=')
    {
        *first = format!("{first}={}", crate::model::mac());
    }
    parts.join(",")
}

/// Applies deletions and new values to a config (allocation already done).
fn apply(
    inner: &mut Inner,
    vmid: u32,
    set: &[(String, String)],
    delete: &[String],
) -> Result<(), String> {
    let g = inner.store.get(vmid).cloned().ok_or("config vanished")?;
    let mut conf = g.conf.clone();
    let running = g.kind == Kind::Qemu
        && inner
            .runtime
            .get(&vmid)
            .is_some_and(|r| r.power != crate::model::Power::Stopped);
    // A new NIC without a MAC gets one (qemu-server `parse_net` fills `macaddr` in).
    let set: Vec<(String, String)> = set
        .iter()
        .map(|(k, v)| (k.clone(), with_mac(g.kind, k, v)))
        .collect();
    let (set, delete) = if running {
        pending::stage(&mut conf, &set, delete)
    } else {
        (set, delete.to_vec())
    };
    for d in &delete {
        if let Some(old) = conf.main.remove(d)
            && crate::model::disks::is_drive_key(d)
            && crate::model::disks::volid_of(&old).is_some()
            && !d.starts_with("unused")
        {
            // A detached disk becomes `unusedN`, as PVE does.
            let n = (0..)
                .find(|n| !conf.main.contains_key(&format!("unused{n}")))
                .unwrap_or(0);
            let volid = crate::model::disks::volid_of(&old)
                .unwrap_or_default()
                .to_string();
            conf.main.insert(format!("unused{n}"), volid);
        }
    }
    for (k, v) in set {
        conf.main.insert(k, v);
    }
    inner
        .store
        .write(vmid, &g.node, g.kind, &conf)
        .map_err(|e| e.to_string())
}

fn is_allocation(value: &str) -> bool {
    let first = value.split(',').next().unwrap_or("");
    first
        .split_once(':')
        .is_some_and(|(_, size)| !size.is_empty() && size.parse::<f64>().is_ok())
}

pub(crate) async fn put(cx: &Cx, _node: &str, kind: Kind, vmid: u32) -> ApiResult {
    let (set, delete) = validate(cx, kind)?;
    {
        let inner = cx.st.lock();
        for key in set
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(delete.iter().map(String::as_str))
        {
            require(
                &inner,
                &cx.ident,
                &format!("/vms/{vmid}"),
                privilege_for(key),
            )?;
        }
    }
    if let Some((k, _)) = set
        .iter()
        .find(|(k, v)| crate::model::disks::is_drive_key(k) && is_allocation(v))
    {
        return Err(ApiError::param(
            k,
            "unable to allocate storage with the synchronous PUT call - use POST",
        ));
    }
    wait_flock(cx, kind, vmid).await?;
    let mut inner = cx.st.lock();
    inner.store.refresh_one(vmid);
    check_current(cx, &inner, vmid)?;
    apply(&mut inner, vmid, &set, &delete).map_err(ApiError::msg)?;
    ok(Value::Null)
}

pub(crate) async fn post(cx: &Cx, node: &str, kind: Kind, vmid: u32) -> ApiResult {
    let (set, delete) = validate(cx, kind)?;
    let background = cx.p.int("background_delay")?;
    {
        let inner = cx.st.lock();
        for key in set
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(delete.iter().map(String::as_str))
        {
            require(
                &inner,
                &cx.ident,
                &format!("/vms/{vmid}"),
                privilege_for(key),
            )?;
        }
    }
    wait_flock(cx, kind, vmid).await?;
    let upid = {
        let mut inner = cx.st.lock();
        inner.store.refresh_one(vmid);
        check_current(cx, &inner, vmid)?;
        let job = Box::new(
            move |inner: &mut Inner, st: &State| -> Result<Vec<String>, String> {
                let mut section: Section = set.iter().cloned().collect();
                let log = allocate_drives(st, inner, vmid, &mut section)?;
                let set: Vec<(String, String)> = section.into_iter().collect();
                apply(inner, vmid, &set, &delete)?;
                Ok(log)
            },
        );
        spawn(
            cx,
            &mut inner,
            node,
            "qmconfig",
            Some(vmid),
            &vmid.to_string(),
            0.3,
            job,
        )
    };
    if let Some(secs) = background {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs.clamp(1, 30) as u64);
        while tokio::time::Instant::now() < deadline {
            let done = cx.st.lock().tasks.get(&upid).and_then(|t| t.end.clone());
            if let Some((_, status)) = done {
                return if status == "OK" {
                    ok(Value::Null)
                } else {
                    Err(ApiError::msg(status))
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    ok(json!(upid))
}
