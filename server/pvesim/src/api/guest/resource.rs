//! Guest entries of `/cluster/resources` as a typed struct serialised straight to JSON:
//! with 10 000 guests, building a `serde_json::Value` map per guest costs most of the call.
//!
//! Fields as in proxmox/pve-manager `API2Tools.pm` `extract_vm_stats`: a guest without RRD
//! data (on an offline node, or mid-create/clone with `lock: create|clone`) carries only
//! `id, vmid, node, type, status:"unknown"` plus `name`/`tags`/`lock`/`pool`/`hastate`.

use serde::Serialize;

use super::{figures, no_rrd_yet};
use crate::api::Cx;
use crate::config::PveVersion;
use crate::model::store::Kind;
use crate::model::{Inner, NodeState, Power};

/// One guest in `/cluster/resources`.
#[derive(Debug, Serialize)]
pub(crate) struct Resource<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    vmid: u32,
    node: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uptime: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maxcpu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maxmem: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memhost: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maxdisk: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disk: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    netin: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    netout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diskread: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diskwrite: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pool: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hastate: Option<&'a str>,
}

pub(crate) fn resource<'a>(
    cx: &Cx,
    inner: &'a Inner,
    vmid: u32,
    with_pool: bool,
) -> Option<Resource<'a>> {
    let g = inner.store.get(vmid)?;
    let sum = &g.summary;
    let name = sum.name.as_deref();
    let online = inner
        .node(&g.node)
        .is_some_and(|n| n.state == NodeState::Online);
    let lock = sum.lock.as_deref();
    let mut r = Resource {
        id: format!("{}/{vmid}", g.kind.as_str()),
        kind: g.kind.as_str(),
        vmid,
        node: &g.node,
        name: name.map(str::to_string),
        status: "unknown",
        template: None,
        uptime: None,
        maxcpu: None,
        cpu: None,
        maxmem: None,
        mem: None,
        memhost: None,
        maxdisk: None,
        disk: None,
        netin: None,
        netout: None,
        diskread: None,
        diskwrite: None,
        tags: sum.tags.as_deref(),
        lock,
        pool: if with_pool { inner.pool_of(vmid) } else { None },
        hastate: inner.ha.get(&vmid).map(String::as_str),
    };
    if online
        && !no_rrd_yet(lock)
        && let Some((lim, u, power)) = figures(cx, inner, vmid)
    {
        r.name = Some(name.map_or_else(|| format!("VM {vmid}"), str::to_string));
        r.status = if power == Power::Stopped {
            "stopped"
        } else {
            "running"
        };
        r.template = Some(u8::from(sum.template));
        r.uptime = Some(u.uptime);
        r.maxcpu = Some(lim.maxcpu);
        r.cpu = Some(u.cpu);
        r.maxmem = Some(lim.maxmem);
        r.mem = Some(u.mem);
        if g.kind == Kind::Qemu && cx.st.cfg.version == PveVersion::V9 {
            r.memhost = Some(u.memhost);
        }
        r.maxdisk = Some(lim.maxdisk);
        r.disk = Some(u.disk);
        r.netin = Some(u.netin);
        r.netout = Some(u.netout);
        r.diskread = Some(u.diskread);
        r.diskwrite = Some(u.diskwrite);
    }
    Some(r)
}
