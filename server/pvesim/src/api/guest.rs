//! Guest reads shared by QEMU and LXC: lookup, `/nodes/{n}/{qemu,lxc}` lists,
//! `status/current`, the `/cluster/resources` entries, and destroy.
//!
//! A guest exists on a node when its config file is in that node's directory; the URL's node
//! is authoritative, so a VM on another node gets the same 500 as a missing one
//! (`Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist`), never a 404.

mod agent;
mod destroy;
mod resource;
mod rrd;

pub(crate) use agent::{agent, interfaces};
pub(crate) use destroy::destroy;
pub(crate) use resource::{Resource, resource};
pub(crate) use rrd::{node_rrddata, rrddata};

use serde_json::{Map, Value, json};

use super::Cx;
use super::authn::require;
use super::params;
use super::reply::{ApiError, ApiResult, ok};
use crate::config::PveVersion;
use crate::model::metrics::{self, Limits, Usage};
use crate::model::store::{Kind, Store};
use crate::model::{Inner, Power, Runtime, State, Storage};

/// Resolves `{vmid}` on `{node}` to a guest that exists there.
pub(crate) fn find(st: &State, node: &str, kind: Kind, text: &str) -> Result<u32, ApiError> {
    let vmid = params::vmid("vmid", text)?;
    let mut inner = st.lock();
    inner.store.refresh_one(vmid);
    let here = |inner: &Inner| {
        inner
            .store
            .get(vmid)
            .is_some_and(|g| g.node == node && g.kind == kind)
    };
    if !here(&inner) && inner.store.path(node, kind, vmid).exists() {
        inner.refresh();
    }
    if here(&inner) {
        Ok(vmid)
    } else {
        Err(ApiError::msg(format!(
            "Configuration file '{}' does not exist",
            Store::rel_name(node, kind, vmid)
        )))
    }
}

static STOPPED: std::sync::LazyLock<Runtime> = std::sync::LazyLock::new(|| Runtime::new(0));

fn runtime(inner: &Inner, vmid: u32) -> &Runtime {
    inner.runtime.get(&vmid).unwrap_or(&STOPPED)
}

/// Limits and usage of a guest right now.
pub(crate) fn figures(cx: &Cx, inner: &Inner, vmid: u32) -> Option<(Limits, Usage, Power)> {
    let g = inner.store.get(vmid)?;
    let lim = g.summary.limits;
    let rt = runtime(inner, vmid);
    let now = cx.st.now();
    let usage = if rt.power == Power::Stopped {
        Usage::default()
    } else {
        metrics::usage(
            vmid,
            g.kind,
            lim,
            rt.started,
            now,
            cx.st.cfg.profile,
            &rt.load,
        )
    };
    Some((lim, usage, rt.power))
}

fn no_rrd_yet(lock: Option<&str>) -> bool {
    matches!(lock, Some("clone" | "create"))
}

/// Entry of `/cluster/resources` and of pool member lists, as a JSON value.
pub(crate) fn resource_entry(cx: &Cx, inner: &Inner, vmid: u32, with_pool: bool) -> Value {
    resource(cx, inner, vmid, with_pool)
        .and_then(|r| serde_json::to_value(r).ok())
        .unwrap_or(Value::Null)
}

/// Storage entry of `/cluster/resources`.
pub(crate) fn storage_entry(s: &Storage, node: &str, online: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(format!("storage/{node}/{}", s.id)));
    m.insert("type".into(), json!("storage"));
    m.insert("storage".into(), json!(s.id));
    m.insert("node".into(), json!(node));
    m.insert("plugintype".into(), json!(s.plugintype));
    m.insert(
        "status".into(),
        json!(if online { "available" } else { "unknown" }),
    );
    m.insert("shared".into(), json!(u8::from(s.shared)));
    m.insert("content".into(), json!(s.content));
    if online {
        m.insert("maxdisk".into(), json!(s.total));
        m.insert("disk".into(), json!(s.total / 4));
    }
    Value::Object(m)
}

fn pressure(m: &mut Map<String, Value>, running: bool, qemu: bool) {
    let v = if running { 0.12 } else { 0.0 };
    m.insert("pressurecpusome".into(), json!(v));
    if qemu {
        m.insert("pressurecpufull".into(), json!(v * 0.75));
    }
    for k in [
        "pressureiosome",
        "pressureiofull",
        "pressurememorysome",
        "pressurememoryfull",
    ] {
        m.insert(k.into(), json!(0));
    }
}

/// Entry of `/nodes/{n}/{qemu,lxc}`; `current` adds what `status/current` adds.
fn list_entry(cx: &Cx, inner: &Inner, vmid: u32, current: bool) -> Value {
    let Some(g) = inner.store.get(vmid) else {
        return Value::Null;
    };
    let Some((lim, u, power)) = figures(cx, inner, vmid) else {
        return Value::Null;
    };
    let rt = runtime(inner, vmid);
    let qemu = g.kind == Kind::Qemu;
    let v9 = cx.st.cfg.version == PveVersion::V9;
    let running = power != Power::Stopped;
    let mut m = Map::new();
    m.insert("vmid".into(), json!(vmid));
    let name = if qemu {
        g.conf.get("name")
    } else {
        g.conf.get("hostname")
    };
    m.insert(
        "name".into(),
        json!(name.map_or_else(
            || format!("{} {vmid}", if qemu { "VM" } else { "CT" }),
            str::to_string
        )),
    );
    if !qemu {
        m.insert("type".into(), json!("lxc"));
    }
    m.insert(
        "status".into(),
        json!(if running { "running" } else { "stopped" }),
    );
    if current && qemu {
        let qmp = match power {
            Power::Running => "running",
            Power::Paused => "paused",
            Power::Stopped => "stopped",
        };
        m.insert("qmpstatus".into(), json!(qmp));
    }
    if running {
        m.insert("pid".into(), json!(rt.pid));
    }
    m.insert("uptime".into(), json!(u.uptime));
    m.insert("cpus".into(), json!(lim.maxcpu));
    m.insert("cpu".into(), json!(u.cpu));
    m.insert("maxmem".into(), json!(lim.maxmem));
    m.insert("mem".into(), json!(u.mem));
    if qemu && v9 {
        m.insert("memhost".into(), json!(u.memhost));
    }
    if !qemu {
        let swap = g
            .conf
            .get("swap")
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(512)
            << 20;
        m.insert("maxswap".into(), json!(swap));
        m.insert("swap".into(), json!(0));
    }
    for (k, v) in [
        ("maxdisk", lim.maxdisk),
        ("disk", u.disk),
        ("netin", u.netin),
        ("netout", u.netout),
        ("diskread", u.diskread),
        ("diskwrite", u.diskwrite),
    ] {
        m.insert(k.into(), json!(v));
    }
    if g.conf.is_template() {
        m.insert("template".into(), json!(1));
    }
    if let Some(lock) = g.conf.get("lock") {
        m.insert("lock".into(), json!(lock));
    }
    if let Some(tags) = g.conf.get("tags") {
        m.insert("tags".into(), json!(tags));
    }
    if qemu && g.conf.main.keys().any(|k| k.starts_with("serial")) && !current {
        m.insert("serial".into(), json!(1));
    }
    if v9 && running && !current {
        pressure(&mut m, running, qemu);
    }
    if current {
        match inner.ha.get(&vmid) {
            Some(state) => m.insert("ha".into(), json!({"managed": 1, "state": state})),
            None => m.insert("ha".into(), json!({"managed": 0})),
        };
        if qemu
            && g.conf
                .get("agent")
                .is_some_and(|a| a.starts_with('1') || a.contains("enabled=1"))
        {
            m.insert("agent".into(), json!(1));
        }
        if qemu && running {
            m.insert("freemem".into(), json!(lim.maxmem - u.mem));
            m.insert("balloon".into(), json!(lim.maxmem));
            m.insert("running-machine".into(), json!("pc-q35-10.0+pve1"));
            m.insert("running-qemu".into(), json!("10.0.2"));
            m.insert(
                "nics".into(),
                json!({format!("tap{vmid}i0"): {"netin": u.netin, "netout": u.netout}}),
            );
            m.insert("blockstat".into(), json!({"scsi0": {
                "rd_bytes": u.diskread, "wr_bytes": u.diskwrite, "rd_operations": u.diskread / 50_000, "wr_operations": u.diskwrite / 8_000,
                "flush_operations": u.diskwrite / 85_000, "idle_time_ns": 4_427_685_914u64,
            }}));
            m.insert("proxmox-support".into(), json!({"backup-max-workers": true, "pbs-dirty-bitmap": true, "pbs-library-version": "2.0.1 (UNKNOWN)", "query-bitmap-info": true}));
            if v9 {
                pressure(&mut m, running, qemu);
            }
        }
    }
    Value::Object(m)
}

pub(crate) fn list(cx: &Cx, node: &str, kind: Kind) -> ApiResult {
    let mut inner = cx.st.lock();
    inner.refresh();
    let ids: Vec<u32> = inner
        .store
        .all()
        .filter(|(_, g)| g.node == node && g.kind == kind)
        .map(|(v, _)| v)
        .collect();
    ok(Value::Array(
        ids.into_iter()
            .map(|v| list_entry(cx, &inner, v, false))
            .collect(),
    ))
}

pub(crate) fn current(cx: &Cx, _node: &str, _kind: Kind, vmid: u32) -> ApiResult {
    let inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Audit")?;
    ok(list_entry(cx, &inner, vmid, true))
}

/// Directory index of `/nodes/{n}/qemu/{vmid}`.
pub(crate) fn index(kind: Kind) -> ApiResult {
    let subdirs: &[&str] = match kind {
        Kind::Qemu => &[
            "config",
            "pending",
            "status",
            "snapshot",
            "rrddata",
            "agent",
            "vncproxy",
            "termproxy",
            "clone",
            "template",
        ],
        Kind::Lxc => &[
            "config",
            "pending",
            "status",
            "snapshot",
            "rrddata",
            "interfaces",
            "vncproxy",
            "termproxy",
            "clone",
            "template",
        ],
    };
    ok(Value::Array(
        subdirs.iter().map(|s| json!({"subdir": s})).collect(),
    ))
}

pub(crate) fn status_index() -> ApiResult {
    let subdirs = [
        "current", "start", "stop", "reset", "shutdown", "suspend", "reboot", "resume",
    ];
    ok(Value::Array(
        subdirs.iter().map(|s| json!({"subdir": s})).collect(),
    ))
}
