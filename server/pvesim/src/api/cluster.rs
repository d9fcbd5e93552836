//! Cluster-wide reads: `/version`, `/cluster/status`, `/cluster/resources`, `/cluster/nextid`
//! and `/pools` (proxmox/pve-manager `API2/Cluster.pm`, `API2Tools.pm`, `API2/Pool.pm`).

use serde_json::{Map, Value, json};

use super::Cx;
use super::authn::require;
use super::guest::{Resource, resource, resource_entry, storage_entry};
use super::params;
use super::reply::{ApiError, ApiResult, Reply, ok};
use crate::config::PveVersion;
use crate::model::{Inner, NodeState, Pool};

pub(crate) fn version(cx: &Cx) -> ApiResult {
    ok(match cx.st.cfg.version {
        PveVersion::V9 => json!({"version": "9.1.1", "release": "9.1", "repoid": "42db4a6cf"}),
        PveVersion::V8 => {
            json!({"version": "8.4.1", "release": "8.4", "repoid": "2a5fa54a8503f96d"})
        }
    })
}

pub(crate) fn status(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let mut out = Vec::new();
    let single = inner.nodes.len() == 1;
    if !single {
        let online = inner
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Online)
            .count();
        out.push(json!({
            "type": "cluster", "id": "cluster", "name": cx.st.clustername,
            "nodes": inner.nodes.len(), "quorate": u8::from(online * 2 > inner.nodes.len()), "version": inner.nodes.len() + 2,
        }));
    }
    for n in &inner.nodes {
        out.push(json!({
            "type": "node", "id": format!("node/{}", n.name), "name": n.name,
            "nodeid": if single { 0 } else { n.nodeid }, "ip": cx.st.cfg.node_ip,
            "local": u8::from(n.nodeid == 1), "online": u8::from(n.state == NodeState::Online), "level": "",
        }));
    }
    ok(Value::Array(out))
}

/// Node entry shared by `/nodes` and `/cluster/resources`.
pub(crate) fn node_entry(cx: &Cx, inner: &Inner, idx: usize, for_resources: bool) -> Value {
    let n = &inner.nodes[idx];
    let now = cx.st.now();
    let mut m = Map::new();
    if for_resources {
        m.insert("id".into(), json!(format!("node/{}", n.name)));
        m.insert("type".into(), json!("node"));
        m.insert("node".into(), json!(n.name));
    } else {
        m.insert("node".into(), json!(n.name));
        m.insert("type".into(), json!("node"));
        m.insert("id".into(), json!(format!("node/{}", n.name)));
    }
    let online = n.state == NodeState::Online;
    m.insert(
        "status".into(),
        json!(if online { "online" } else { "offline" }),
    );
    m.insert("level".into(), json!(""));
    if online {
        m.insert("uptime".into(), json!(now.saturating_sub(n.boot)));
        m.insert(
            "cpu".into(),
            json!(crate::model::metrics::node_cpu(
                n.nodeid,
                now,
                cx.st.cfg.profile
            )),
        );
        m.insert("mem".into(), json!(n.maxmem / 3));
        m.insert("disk".into(), json!(n.maxdisk / 10));
    }
    m.insert("maxcpu".into(), json!(n.maxcpu));
    m.insert("maxmem".into(), json!(n.maxmem));
    m.insert("maxdisk".into(), json!(n.maxdisk));
    if for_resources {
        m.insert("cgroup-mode".into(), json!(2));
    } else {
        m.insert("ssl_fingerprint".into(), json!(n.fingerprint));
    }
    Value::Object(m)
}

pub(crate) fn resources(cx: &Cx) -> ApiResult {
    let filter = cx.p.get("type");
    if let Some(t) = filter
        && !["vm", "storage", "node", "sdn", "pool"].contains(&t)
    {
        return Err(ApiError::param(
            "type",
            format!(
                "value '{t}' does not have a value in the enumeration 'vm, storage, node, sdn'"
            ),
        ));
    }
    let want = |t: &str| filter.is_none_or(|f| f == t);
    let mut inner = cx.st.lock();
    inner.refresh();
    let mut out: Vec<Value> = Vec::with_capacity(inner.store.len() + 16);
    if want("pool") {
        for (id, pool) in &inner.pools {
            out.push(pool_resource(cx, &inner, id, pool));
        }
    }
    // Guests are serialised as typed structs (fast at 10 000 guests); the few other
    // entries as values. Order: pools, guests, nodes, storages, sdn/network.
    let mut guests: Vec<Resource<'_>> = Vec::new();
    if want("vm") {
        // PVE sorts guests by VMID *as strings*: "100" < "1000" < "200".
        let mut ids: Vec<u32> = inner.store.all().map(|(v, _)| v).collect();
        ids.sort_unstable_by_key(|v| string_order(*v));
        guests = ids
            .into_iter()
            .filter_map(|vmid| resource(cx, &inner, vmid, true))
            .collect();
    }
    let mut tail: Vec<Value> = Vec::new();
    if want("node") {
        for i in 0..inner.nodes.len() {
            tail.push(node_entry(cx, &inner, i, true));
        }
    }
    if want("storage") {
        for n in &inner.nodes {
            for s in &inner.storages {
                tail.push(storage_entry(s, &n.name, n.state == NodeState::Online));
            }
        }
    }
    if want("sdn") {
        for n in &inner.nodes {
            tail.push(match cx.st.cfg.version {
                PveVersion::V8 => json!({"id": format!("sdn/{}/localnetwork", n.name), "type": "sdn", "sdn": "localnetwork", "node": n.name, "status": "ok"}),
                PveVersion::V9 => json!({"id": format!("network/{}/zone/localnetwork", n.name), "type": "network", "network": "localnetwork", "network-type": "zone", "node": n.name, "status": "ok"}),
            });
        }
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        data: Entries<'a>,
    }
    struct Entries<'a>(&'a [Value], &'a [Resource<'a>], &'a [Value]);
    impl serde::Serialize for Entries<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = s.serialize_seq(Some(self.0.len() + self.1.len() + self.2.len()))?;
            for v in self.0 {
                seq.serialize_element(v)?;
            }
            for r in self.1 {
                seq.serialize_element(r)?;
            }
            for v in self.2 {
                seq.serialize_element(v)?;
            }
            seq.end()
        }
    }
    let mut body = Vec::with_capacity(1024 + guests.len() * 320);
    serde_json::to_writer(
        &mut body,
        &Body {
            data: Entries(&out, &guests, &tail),
        },
    )
    .map_err(|e| ApiError::msg(e.to_string()))?;
    Ok(Reply::Json(body))
}

/// A key whose numeric order is the order of the VMID's decimal *string*: digits
/// left-aligned in base 11 (digit d as d + 1, missing positions as 0), so "100" < "1000" <
/// "200" without allocating strings for 10 000 guests.
fn string_order(vmid: u32) -> u64 {
    let mut reversed = [0u8; 10];
    let (mut n, mut len) = (vmid, 0);
    loop {
        reversed[len] = (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    (0..10).fold(0u64, |key, i| {
        let digit = if i < len {
            u64::from(reversed[len - 1 - i]) + 1
        } else {
            0
        };
        key * 11 + digit
    })
}

/// Pool entry of `/cluster/resources`: aggregated figures of its running members.
fn pool_resource(cx: &Cx, inner: &Inner, id: &str, pool: &Pool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(format!("/pool/{id}")));
    m.insert("type".into(), json!("pool"));
    m.insert("pool".into(), json!(id));
    let (mut uptime, mut mem, mut maxmem, mut cpu, mut maxcpu) = (0u64, 0u64, 0u64, 0f64, 0u64);
    let mut any = false;
    for vmid in &pool.vms {
        let e = resource_entry(cx, inner, *vmid, false);
        if e["status"] == "running" {
            any = true;
            uptime = uptime.max(e["uptime"].as_u64().unwrap_or(0));
            mem += e["mem"].as_u64().unwrap_or(0);
            maxmem += e["maxmem"].as_u64().unwrap_or(0);
            cpu += e["cpu"].as_f64().unwrap_or(0.0);
            maxcpu += e["maxcpu"].as_u64().unwrap_or(0);
        }
    }
    if any {
        m.insert("uptime".into(), json!(uptime));
        m.insert("mem".into(), json!(mem));
        m.insert("maxmem".into(), json!(maxmem));
        m.insert("cpu".into(), json!((cpu * 10_000.0).round() / 10_000.0));
        m.insert("maxcpu".into(), json!(maxcpu));
    }
    Value::Object(m)
}

pub(crate) fn nextid(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    inner.refresh();
    if let Some(text) = cx.p.get("vmid") {
        let vmid = params::vmid("vmid", text)?;
        if inner.store.contains(vmid) {
            return Err(ApiError::param("vmid", format!("VM {vmid} already exists")));
        }
        // A JSON string, although the schema says integer (Perl scalar).
        return ok(json!(vmid.to_string()));
    }
    let mut id = 100;
    while inner.store.contains(id) {
        id += 1;
    }
    ok(json!(id.to_string()))
}

fn pool_members(cx: &Cx, inner: &Inner, pool: &Pool) -> Vec<Value> {
    let mut members: Vec<Value> = pool
        .vms
        .iter()
        .map(|v| resource_entry(cx, inner, *v, false))
        .collect();
    for s in &pool.storages {
        for n in &inner.nodes {
            if let Some(st) = inner.storage(s) {
                members.push(storage_entry(st, &n.name, n.state == NodeState::Online));
            }
        }
    }
    members
}

pub(crate) fn pools(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    inner.refresh();
    let only = cx.p.get("poolid");
    if let Some(id) = only
        && !inner.pools.contains_key(id)
    {
        return Err(ApiError::msg(format!("pool '{id}' does not exist")));
    }
    let list: Vec<(String, Pool)> = inner
        .pools
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Vec::new();
    for (id, pool) in list {
        if only.is_some_and(|o| o != id) {
            continue;
        }
        let mut m = Map::new();
        m.insert("poolid".into(), json!(id));
        if let Some(c) = &pool.comment {
            m.insert("comment".into(), json!(c));
        }
        if only.is_some() {
            m.insert(
                "members".into(),
                Value::Array(pool_members(cx, &inner, &pool)),
            );
        }
        out.push(Value::Object(m));
    }
    ok(Value::Array(out))
}

/// Deprecated `GET /pools/{poolid}` (object form), still served by 8.x and 9.x.
pub(crate) fn pool(cx: &Cx, id: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    inner.refresh();
    let pool = inner
        .pools
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::msg(format!("pool '{id}' does not exist")))?;
    let mut m = Map::new();
    if let Some(c) = &pool.comment {
        m.insert("comment".into(), json!(c));
    }
    m.insert(
        "members".into(),
        Value::Array(pool_members(cx, &inner, &pool)),
    );
    ok(Value::Object(m))
}

pub(crate) fn delete_pool(cx: &Cx, id: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/pool/{id}"), "Pool.Allocate")?;
    let pool = inner
        .pools
        .get(id)
        .ok_or_else(|| ApiError::msg(format!("delete pool failed: pool '{id}' does not exist")))?;
    if !pool.vms.is_empty() || !pool.storages.is_empty() {
        return Err(ApiError::msg(format!(
            "delete pool failed: pool '{id}' is not empty"
        )));
    }
    inner.pools.remove(id);
    ok(Value::Null)
}

pub(crate) fn create_pool(cx: &Cx) -> ApiResult {
    let mut inner = cx.st.lock();
    let id = cx
        .p
        .get("poolid")
        .ok_or_else(|| ApiError::param("poolid", "property is missing and it is not optional"))?;
    require(&inner, &cx.ident, &format!("/pool/{id}"), "Pool.Allocate")?;
    if inner.pools.contains_key(id) {
        return Err(ApiError::msg(format!(
            "create pool failed - pool '{id}' already exists"
        )));
    }
    inner.pools.insert(
        id.to_string(),
        Pool {
            comment: cx.p.get("comment").map(Into::into),
            ..Pool::default()
        },
    );
    ok(Value::Null)
}

pub(crate) fn update_pool(cx: &Cx, path_id: Option<&str>) -> ApiResult {
    let mut inner = cx.st.lock();
    inner.refresh();
    let id = path_id
        .or(cx.p.get("poolid"))
        .ok_or_else(|| ApiError::param("poolid", "property is missing and it is not optional"))?
        .to_string();
    require(&inner, &cx.ident, &format!("/pool/{id}"), "Pool.Allocate")?;
    if !inner.pools.contains_key(&id) {
        return Err(ApiError::msg(format!("pool '{id}' does not exist")));
    }
    let delete = cx.p.flag("delete")?;
    let vms: Vec<u32> =
        cx.p.get("vms")
            .unwrap_or("")
            .split([',', ';', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| params::vmid("vms", s))
            .collect::<Result<_, _>>()?;
    for vmid in &vms {
        if !inner.store.contains(*vmid) {
            return Err(ApiError::msg(format!("VM {vmid} does not exist")));
        }
        if !delete && let Some(other) = inner.pool_of(*vmid).filter(|p| *p != id) {
            if !cx.p.flag("allow-move")? {
                return Err(ApiError::msg(format!(
                    "VM {vmid} belongs already to pool '{other}'"
                )));
            }
            let other = other.to_string();
            if let Some(p) = inner.pools.get_mut(&other) {
                p.vms.retain(|v| v != vmid);
            }
        }
    }
    let storages: Vec<String> =
        cx.p.get("storage")
            .unwrap_or("")
            .split([',', ';', ' '])
            .filter(|s| !s.is_empty())
            .map(Into::into)
            .collect();
    let pool = inner
        .pools
        .get_mut(&id)
        .ok_or_else(|| ApiError::msg("pool vanished"))?;
    if let Some(c) = cx.p.get("comment") {
        pool.comment = Some(c.to_string());
    }
    for vmid in vms {
        if delete {
            pool.vms.retain(|v| *v != vmid);
        } else if !pool.vms.contains(&vmid) {
            pool.vms.push(vmid);
        }
    }
    for s in storages {
        if delete {
            pool.storages.retain(|x| *x != s);
        } else if !pool.storages.contains(&s) {
            pool.storages.push(s);
        }
    }
    ok(Value::Null)
}

#[cfg(test)]
mod tests {
    #[test]
    fn vmids_sort_as_strings() {
        let mut ids = [200, 1000, 100, 9000, 10000, 99, 101];
        ids.sort_unstable_by_key(|v| super::string_order(*v));
        let strings: Vec<String> = ids.iter().map(u32::to_string).collect();
        let sorted = {
            let mut s = strings.clone();
            s.sort();
            s
        };
        assert_eq!(strings, sorted);
        assert_eq!(ids, [100, 1000, 10000, 101, 200, 9000, 99]);
    }
}
