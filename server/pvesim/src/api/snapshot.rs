//! Snapshots as sections of the config file (proxmox/pve-guest-common `AbstractConfig.pm`):
//! each `[name]` section is a full copy of the config plus `snaptime`, its own `parent`
//! (the previous snapshot) and `vmstate` when RAM was saved; the main section's `parent`
//! names the newest snapshot. The list always ends with the pseudo entry `current`.
//! Deviation: qcow2 files get no internal `qemu-img snapshot`; only the config changes.

use serde_json::{Map, Value, json};

use super::Cx;
use super::authn::require;
use super::qemu_config::typed;
use super::reply::{ApiError, ApiResult, ok};
use super::tasks::spawn;
use crate::model::store::Kind;
use crate::model::{Inner, Power, State};

pub(crate) fn list(cx: &Cx, vmid: u32) -> ApiResult {
    let inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Audit")?;
    let g = inner
        .store
        .get(vmid)
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    let mut out = Vec::new();
    for (name, s) in &g.conf.snapshots {
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        m.insert(
            "snaptime".into(),
            json!(
                s.get("snaptime")
                    .and_then(|t| t.parse::<u64>().ok())
                    .unwrap_or(0)
            ),
        );
        if g.kind == Kind::Qemu {
            m.insert("vmstate".into(), json!(u8::from(s.contains_key("vmstate"))));
        }
        m.insert(
            "description".into(),
            json!(s.get("description").cloned().unwrap_or_default()),
        );
        if let Some(p) = s.get("parent") {
            m.insert("parent".into(), json!(p));
        }
        if let Some(state) = s.get("snapstate") {
            m.insert("snapstate".into(), json!(state));
        }
        out.push(Value::Object(m));
    }
    let running = inner
        .runtime
        .get(&vmid)
        .is_some_and(|r| r.power != Power::Stopped);
    let mut current = Map::new();
    current.insert("name".into(), json!("current"));
    current.insert("digest".into(), json!(g.digest));
    current.insert("running".into(), json!(u8::from(running)));
    current.insert("description".into(), json!("You are here!"));
    if let Some(p) = g.conf.get("parent") {
        current.insert("parent".into(), json!(p));
    }
    out.push(Value::Object(current));
    ok(Value::Array(out))
}

fn exists(inner: &Inner, vmid: u32, name: &str) -> Result<(), ApiError> {
    let g = inner
        .store
        .get(vmid)
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    if g.conf.snapshots.contains_key(name) {
        Ok(())
    } else {
        Err(ApiError::msg(format!("snapshot '{name}' does not exist")))
    }
}

pub(crate) fn index(cx: &Cx, vmid: u32, name: &str) -> ApiResult {
    let inner = cx.st.lock();
    exists(&inner, vmid, name)?;
    ok(json!([{"cmd": "rollback"}, {"cmd": "config"}]))
}

pub(crate) fn config(cx: &Cx, vmid: u32, name: &str) -> ApiResult {
    let inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Audit")?;
    exists(&inner, vmid, name)?;
    let g = inner
        .store
        .get(vmid)
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    ok(Value::Object(typed(g.kind, &g.conf.snapshots[name])))
}

pub(crate) fn set_config(cx: &Cx, _node: &str, _kind: Kind, vmid: u32, name: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Snapshot")?;
    exists(&inner, vmid, name)?;
    let g = inner
        .store
        .get(vmid)
        .cloned()
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    let mut conf = g.conf.clone();
    if let (Some(d), Some(s)) = (cx.p.get("description"), conf.snapshots.get_mut(name)) {
        s.insert("description".into(), d.to_string());
    }
    inner
        .store
        .write(vmid, &g.node, g.kind, &conf)
        .map_err(|e| ApiError::msg(e.to_string()))?;
    ok(Value::Null)
}

/// `pve-configid`-like snapshot names: a letter, then letters, digits, `-`, `_`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() >= 2
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn create(cx: &Cx, node: &str, kind: Kind, vmid: u32) -> ApiResult {
    let name = cx
        .p
        .get("snapname")
        .ok_or_else(|| ApiError::param("snapname", "property is missing and it is not optional"))?
        .to_string();
    if !valid_name(&name) || name == "current" {
        return Err(ApiError::param(
            "snapname",
            format!("invalid format - invalid configuration ID '{name}'"),
        ));
    }
    let description = cx.p.get("description").map(str::to_string);
    let vmstate = cx.p.flag("vmstate")?;
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Snapshot")?;
    let job = Box::new(
        move |inner: &mut Inner, st: &State| -> Result<Vec<String>, String> {
            let g = inner.store.get(vmid).cloned().ok_or("config vanished")?;
            if g.conf.snapshots.contains_key(&name) {
                return Err(format!("snapshot name '{name}' already used"));
            }
            if g.conf.is_template() {
                return Err("you can't take a snapshot if it's a template".into());
            }
            if let Some(lock) = g.conf.get("lock") {
                return Err(format!("VM is locked ({lock})"));
            }
            let running = inner
                .runtime
                .get(&vmid)
                .is_some_and(|r| r.power != Power::Stopped);
            let mut conf = g.conf.clone();
            let mut snap = conf.main.clone();
            snap.insert("snaptime".into(), st.now().to_string());
            match &description {
                Some(d) => snap.insert("description".into(), d.clone()),
                None => snap.remove("description"),
            };
            if vmstate && running && kind == Kind::Qemu {
                snap.insert(
                    "vmstate".into(),
                    format!("local:{vmid}/vm-{vmid}-state-{name}.raw"),
                );
            }
            conf.snapshots.insert(name.clone(), snap);
            conf.main.insert("parent".into(), name.clone());
            inner
                .store
                .write(vmid, &g.node, g.kind, &conf)
                .map_err(|e| e.to_string())?;
            Ok(vec![format!("snapshot '{name}' created")])
        },
    );
    let task = if kind == Kind::Qemu {
        "qmsnapshot"
    } else {
        "vzsnapshot"
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

pub(crate) fn rollback(cx: &Cx, node: &str, kind: Kind, vmid: u32, name: &str) -> ApiResult {
    let start = cx.p.flag("start")?;
    let mut inner = cx.st.lock();
    require(
        &inner,
        &cx.ident,
        &format!("/vms/{vmid}"),
        "VM.Snapshot.Rollback",
    )?;
    exists(&inner, vmid, name)?;
    let name = name.to_string();
    let job = Box::new(
        move |inner: &mut Inner, st: &State| -> Result<Vec<String>, String> {
            let g = inner.store.get(vmid).cloned().ok_or("config vanished")?;
            let snap = g
                .conf
                .snapshots
                .get(&name)
                .cloned()
                .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
            let mut conf = g.conf.clone();
            let with_ram = snap.contains_key("vmstate");
            let mut main = snap;
            for k in ["snaptime", "vmstate", "snapstate"] {
                main.remove(k);
            }
            match g.conf.get("description") {
                Some(d) => main.insert("description".into(), d.to_string()),
                None => main.remove("description"),
            };
            main.insert("parent".into(), name.clone());
            conf.main = main;
            inner
                .store
                .write(vmid, &g.node, g.kind, &conf)
                .map_err(|e| e.to_string())?;
            let rt = inner.rt(vmid);
            if with_ram || start {
                rt.power = Power::Running;
                rt.started = st.now();
                rt.since = Some(std::time::Instant::now());
            } else {
                rt.power = Power::Stopped;
            }
            Ok(Vec::new())
        },
    );
    let task = if kind == Kind::Qemu {
        "qmrollback"
    } else {
        "vzrollback"
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

pub(crate) fn delete(cx: &Cx, node: &str, kind: Kind, vmid: u32, name: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Snapshot")?;
    exists(&inner, vmid, name)?;
    let name = name.to_string();
    let job = Box::new(
        move |inner: &mut Inner, _st: &State| -> Result<Vec<String>, String> {
            let g = inner.store.get(vmid).cloned().ok_or("config vanished")?;
            let mut conf = g.conf.clone();
            let removed = conf
                .snapshots
                .remove(&name)
                .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
            let grand = removed.get("parent").cloned();
            // Children of the removed snapshot now hang off its parent.
            for section in conf
                .snapshots
                .values_mut()
                .chain(std::iter::once(&mut conf.main))
            {
                if section.get("parent") == Some(&name) {
                    match &grand {
                        Some(p) => section.insert("parent".into(), p.clone()),
                        None => section.remove("parent"),
                    };
                }
            }
            inner
                .store
                .write(vmid, &g.node, g.kind, &conf)
                .map_err(|e| e.to_string())?;
            Ok(Vec::new())
        },
    );
    let task = if kind == Kind::Qemu {
        "qmdelsnapshot"
    } else {
        "vzdelsnapshot"
    };
    let upid = spawn(
        cx,
        &mut inner,
        node,
        task,
        Some(vmid),
        &vmid.to_string(),
        0.8,
        job,
    );
    ok(json!(upid))
}
