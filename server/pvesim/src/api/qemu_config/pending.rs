//! `[PENDING]` changes of running guests (proxmox/qemu-server `update_vm_api`,
//! `vmconfig_hotplug_pending`, `vmconfig_apply_pending`).
//!
//! While a VM runs, a write first lands in `[PENDING]`; what PVE can apply live right away
//! (the "fast plug" options such as `name`/`tags`/`description`/`onboot`, and with the
//! default `hotplug: network,disk,usb` NICs, SCSI/VirtIO disks and USB) moves to the main
//! section at once. The rest (`cores`, `memory`, `cpu`, cloud-init, ...) stays pending
//! until the next start, with deletions as `delete: a,b`. `GET config` merges pending values
//! unless `current=1`; `GET pending` shows both sides.

use serde_json::{Value, json};

use super::typed;
use crate::api::Cx;
use crate::api::authn::require;
use crate::api::reply::{ApiError, ApiResult, ok};
use crate::model::conf::{Conf, Section};
use crate::model::store::Kind;

const FAST_PLUG: &[&str] = &[
    "name",
    "description",
    "tags",
    "onboot",
    "protection",
    "startup",
    "hookscript",
    "shares",
    "vmstatestorage",
    "lock",
];

/// Whether a running VM takes this change live.
pub(crate) fn hotpluggable(key: &str) -> bool {
    let numbered = |p: &str| {
        key.strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    FAST_PLUG.contains(&key)
        || ["net", "scsi", "virtio", "usb", "unused"]
            .iter()
            .any(|p| numbered(p))
}

/// Records changes for a running VM: hotpluggable ones in `main`, the rest in `[PENDING]`.
/// Returns the keys applied live (the caller handles disk detaching for those).
pub(crate) fn stage(
    conf: &mut Conf,
    set: &[(String, String)],
    delete: &[String],
) -> (Vec<(String, String)>, Vec<String>) {
    let mut pending = conf.pending.take().unwrap_or_default();
    let mut deletes: Vec<String> = pending
        .remove("delete")
        .map(|d| d.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let (mut live_set, mut live_delete) = (Vec::new(), Vec::new());
    for (k, v) in set {
        deletes.retain(|d| d != k);
        if hotpluggable(k) {
            pending.remove(k);
            live_set.push((k.clone(), v.clone()));
        } else {
            pending.insert(k.clone(), v.clone());
        }
    }
    for d in delete {
        pending.remove(d);
        if hotpluggable(d) {
            live_delete.push(d.clone());
        } else if conf.main.contains_key(d) && !deletes.contains(d) {
            deletes.push(d.clone());
        }
    }
    if !deletes.is_empty() {
        pending.insert("delete".into(), deletes.join(","));
    }
    conf.pending = (!pending.is_empty()).then_some(pending);
    (live_set, live_delete)
}

/// Applies `[PENDING]` to the main section (at VM start); true when something changed.
pub(crate) fn apply_pending(conf: &mut Conf) -> bool {
    let Some(mut pending) = conf.pending.take() else {
        return false;
    };
    if let Some(deletes) = pending.remove("delete") {
        for d in deletes.split(',') {
            conf.main.remove(d);
        }
    }
    conf.main.extend(pending);
    true
}

/// The main section with pending values merged in (what `GET config` shows by default).
pub(crate) fn merged(conf: &Conf) -> Section {
    let mut out = conf.main.clone();
    if let Some(p) = &conf.pending {
        for (k, v) in p {
            if k == "delete" {
                for d in v.split(',') {
                    out.remove(d);
                }
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// `GET .../pending`: every key with its current `value`, its `pending` value and
/// `delete: 1` for pending deletions.
pub(crate) fn pending(cx: &Cx, kind: Kind, vmid: u32) -> ApiResult {
    let inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Audit")?;
    let g = inner
        .store
        .get(vmid)
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    let current = typed(kind, &g.conf.main);
    let empty = Section::new();
    let pend = g.conf.pending.as_ref().unwrap_or(&empty);
    let pend_typed = typed(kind, pend);
    let deletes: Vec<&str> = pend
        .get("delete")
        .map(|d| d.split(',').collect())
        .unwrap_or_default();
    let mut keys: Vec<&String> = current
        .keys()
        .chain(pend_typed.keys().filter(|k| *k != "delete"))
        .collect();
    keys.sort();
    keys.dedup();
    let list: Vec<Value> = keys
        .into_iter()
        .map(|k| {
            let mut e = serde_json::Map::new();
            e.insert("key".into(), json!(k));
            if let Some(v) = current.get(k) {
                e.insert("value".into(), v.clone());
            }
            if let Some(v) = pend_typed.get(k) {
                e.insert("pending".into(), v.clone());
            }
            if deletes.contains(&k.as_str()) {
                e.insert("delete".into(), json!(1));
            }
            Value::Object(e)
        })
        .collect();
    ok(Value::Array(list))
}
