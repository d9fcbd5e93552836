//! `rrddata` for guests and nodes: series computed from the same deterministic figures as
//! the status calls. Step and length per timeframe follow PVE 9's RRD layout (hour: 70 × 60 s,
//! day: 1440 × 60 s, week: 336 × 30 min, month: 372 × 2 h, year: 365 × 1 d, decade: 520 × 1 w);
//! counters are rates in bytes per second (floats), and samples where a guest was not running
//! carry only `time`, as undefined RRD values are left out.

use serde_json::{Map, Value, json};

use super::super::Cx;
use super::super::authn::require;
use super::super::reply::{ApiError, ApiResult, ok};
use crate::config::PveVersion;
use crate::model::metrics::{self, wave};
use crate::model::store::Kind;
use crate::model::{NodeState, Power};

fn frame(cx: &Cx) -> Result<(u64, u64), ApiError> {
    let tf = cx.p.get("timeframe").ok_or_else(|| {
        ApiError::param("timeframe", "property is missing and it is not optional")
    })?;
    Ok(match tf {
        "hour" => (60, 70),
        "day" => (60, 1440),
        "week" => (1800, 336),
        "month" => (7200, 372),
        "year" => (86_400, 365),
        "decade" => (604_800, 520),
        other => {
            return Err(ApiError::param(
                "timeframe",
                format!(
                    "value '{other}' does not have a value in the enumeration 'hour, day, week, month, year, decade'"
                ),
            ));
        }
    })
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub(crate) fn rrddata(cx: &Cx, kind: Kind, vmid: u32) -> ApiResult {
    let (step, points) = frame(cx)?;
    let inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Audit")?;
    let g = inner
        .store
        .get(vmid)
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    let lim = metrics::limits(g.kind, &g.conf);
    let rt = inner
        .runtime
        .get(&vmid)
        .filter(|r| r.power != Power::Stopped);
    let global = cx.st.cfg.profile;
    let now = cx.st.now() / step * step;
    let v9 = cx.st.cfg.version == PveVersion::V9;
    let mut out = Vec::with_capacity(points as usize);
    for i in (0..points).rev() {
        let t = now - i * step;
        let mut m = Map::new();
        m.insert("time".into(), json!(t));
        if let Some(rt) = rt.filter(|r| t >= r.started) {
            let u = metrics::usage(vmid, kind, lim, rt.started, t, global, &rt.load);
            let rate = (1500.0 + (vmid % 17) as f64 * 100.0 * (0.5 + wave(vmid + 7, t)))
                * metrics::io_weight(rt.load.at(t, global)) as f64;
            m.insert("maxcpu".into(), json!(lim.maxcpu));
            m.insert("cpu".into(), json!(u.cpu));
            m.insert("maxmem".into(), json!(lim.maxmem));
            m.insert("mem".into(), json!(u.mem));
            if v9 && kind == Kind::Qemu {
                m.insert("memhost".into(), json!(u.memhost));
            }
            m.insert("maxdisk".into(), json!(lim.maxdisk));
            m.insert("disk".into(), json!(u.disk));
            m.insert("netin".into(), json!(round(rate)));
            m.insert("netout".into(), json!(round(rate / 4.0)));
            m.insert(
                "diskread".into(),
                json!(round(rate * 2.0 * wave(vmid + 3, t))),
            );
            m.insert("diskwrite".into(), json!(round(rate * 7.0)));
            if v9 {
                for k in [
                    "pressurecpusome",
                    "pressurecpufull",
                    "pressureiosome",
                    "pressureiofull",
                    "pressurememorysome",
                    "pressurememoryfull",
                ] {
                    m.insert(k.into(), json!(0));
                }
            }
        }
        out.push(Value::Object(m));
    }
    ok(Value::Array(out))
}

pub(crate) fn node_rrddata(cx: &Cx, node: &str) -> ApiResult {
    let (step, points) = frame(cx)?;
    let inner = cx.st.lock();
    let n = inner
        .node(node)
        .ok_or_else(|| ApiError::msg("no such node"))?;
    let online = n.state == NodeState::Online;
    let now = cx.st.now() / step * step;
    let v9 = cx.st.cfg.version == PveVersion::V9;
    let mut out = Vec::with_capacity(points as usize);
    for i in (0..points).rev() {
        let t = now - i * step;
        let mut m = Map::new();
        m.insert("time".into(), json!(t));
        if online {
            let cpu = metrics::node_cpu(n.nodeid, t, cx.st.cfg.profile);
            m.insert(
                "loadavg".into(),
                json!(round(cpu * f64::from(n.maxcpu) * 0.7)),
            );
            m.insert("maxcpu".into(), json!(n.maxcpu));
            m.insert("cpu".into(), json!(cpu));
            m.insert("iowait".into(), json!(0.0011));
            m.insert("memtotal".into(), json!(n.maxmem));
            m.insert("memused".into(), json!(n.maxmem / 3));
            m.insert("swaptotal".into(), json!(8_589_930_496u64));
            m.insert("swapused".into(), json!(0));
            m.insert("roottotal".into(), json!(n.maxdisk));
            m.insert("rootused".into(), json!(n.maxdisk / 10));
            m.insert(
                "netin".into(),
                json!(round(210_000.0 * (0.5 + wave(n.nodeid, t)))),
            );
            m.insert(
                "netout".into(),
                json!(round(88_000.0 * (0.5 + wave(n.nodeid + 1, t)))),
            );
            if v9 {
                m.insert("memavailable".into(), json!(n.maxmem / 3 * 2));
                m.insert("arcsize".into(), json!(0));
                for k in [
                    "pressurecpusome",
                    "pressureiosome",
                    "pressureiofull",
                    "pressurememorysome",
                    "pressurememoryfull",
                ] {
                    m.insert(k.into(), json!(0));
                }
            }
        }
        out.push(Value::Object(m));
    }
    ok(Value::Array(out))
}
