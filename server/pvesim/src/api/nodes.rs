//! `/nodes`, `/nodes/{node}` and `/nodes/{node}/status` (proxmox/pve-manager `API2/Nodes.pm`).
//! Offline nodes keep their `max*` figures in `/nodes` but lose uptime, cpu, mem and disk;
//! calls *to* them never get here (595/596 in `api::reachable`).

use serde_json::{Value, json};

use super::Cx;
use super::cluster::node_entry;
use super::reply::{ApiError, ApiResult, ok};
use crate::config::PveVersion;
use crate::model::metrics::node_cpu;

pub(crate) fn list(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    ok(Value::Array(
        (0..inner.nodes.len())
            .map(|i| node_entry(cx, &inner, i, false))
            .collect(),
    ))
}

pub(crate) fn index(_cx: &Cx, _node: &str) -> ApiResult {
    let subdirs = [
        "qemu",
        "lxc",
        "status",
        "storage",
        "tasks",
        "rrddata",
        "termproxy",
        "vncwebsocket",
        "network",
        "version",
    ];
    ok(Value::Array(
        subdirs.iter().map(|s| json!({"name": s})).collect(),
    ))
}

/// `GET /nodes/{n}/network`: the node's interfaces; guests attach to `vmbr0`.
/// `GET /nodes/{n}/network`: one NIC and the bridge `vmbr0` of a stock install; `type`
/// filters as pve-manager's `API2/Network.pm` does (`any_bridge`: Linux and OVS bridges).
pub(crate) fn network(cx: &Cx, _node: &str) -> ApiResult {
    let ip = &cx.st.cfg.node_ip;
    let all = [
        json!({"iface": "eno1", "type": "eth", "active": 1, "autostart": 1, "method": "manual", "method6": "manual", "families": ["inet"], "priority": 3}),
        json!({"iface": "vmbr0", "type": "bridge", "active": 1, "autostart": 1, "method": "static", "method6": "manual", "families": ["inet"],
         "address": ip, "netmask": "24", "cidr": format!("{ip}/24"), "bridge_ports": "eno1", "bridge_stp": "off", "bridge_fd": "0", "priority": 4}),
    ];
    let want = cx.p.get("type");
    let list: Vec<Value> = all
        .into_iter()
        .filter(|i| {
            let t = i["type"].as_str().unwrap_or_default();
            match want {
                None => true,
                Some("any_bridge") => t == "bridge" || t == "OVSBridge",
                Some(w) => t == w,
            }
        })
        .collect();
    ok(Value::Array(list))
}

pub(crate) fn rrddata(cx: &Cx, node: &str) -> ApiResult {
    super::guest::node_rrddata(cx, node)
}

pub(crate) fn status(cx: &Cx, node: &str) -> ApiResult {
    let inner = cx.st.lock();
    let n = inner
        .node(node)
        .ok_or_else(|| ApiError::msg("no such node"))?;
    let now = cx.st.now();
    let cpu = node_cpu(n.nodeid, now, cx.st.cfg.profile);
    let load = cpu * f64::from(n.maxcpu) * 0.7;
    let (kernel, version, pvever) = match cx.st.cfg.version {
        PveVersion::V9 => (
            "6.14.11-4-pve",
            "#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4 (2025-10-10T08:04Z)",
            "pve-manager/9.1.1/42db4a6cf",
        ),
        PveVersion::V8 => (
            "6.8.12-9-pve",
            "#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9 (2025-03-16T19:18Z)",
            "pve-manager/8.4.1/2a5fa54a8503f96d",
        ),
    };
    let used = n.maxmem / 3;
    ok(json!({
        "uptime": now.saturating_sub(n.boot),
        "idle": 0,
        "cpu": cpu,
        "wait": 0.0011,
        // loadavg entries are strings in PVE.
        "loadavg": [format!("{:.2}", load), format!("{:.2}", load * 1.1), format!("{:.2}", load * 1.05)],
        "kversion": format!("Linux {kernel} {version}"),
        "current-kernel": {"sysname": "Linux", "release": kernel, "machine": "x86_64", "version": version},
        "boot-info": {"mode": "efi", "secureboot": 0},
        "cpuinfo": {"model": "AMD EPYC 7313P 16-Core Processor", "cpus": n.maxcpu, "cores": n.maxcpu, "sockets": 1, "mhz": "2999.998", "hvm": "1", "user_hz": 100, "flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr svm"},
        "memory": {"total": n.maxmem, "used": used, "free": n.maxmem - used, "available": n.maxmem - used + used / 4},
        "swap": {"total": 8_589_930_496u64, "used": 0, "free": 8_589_930_496u64},
        "ksm": {"shared": 0},
        "rootfs": {"total": n.maxdisk, "used": n.maxdisk / 10, "free": n.maxdisk - n.maxdisk / 10, "avail": n.maxdisk - n.maxdisk / 6},
        "pveversion": pvever,
    }))
}
