//! `POST .../status/{start,stop,shutdown,reboot,reset,suspend,resume}`.
//!
//! PVE checks some things before forking the worker (a stopped VM cannot be rebooted,
//! reset, suspended or resumed: synchronous `500 VM 101 not running`) and others inside it
//! (`start` on a running VM *succeeds* over HTTP and its task fails with
//! `VM 100 already running`; templates and locks likewise). The power state changes only
//! when the task ends, so `running` appears after the start task, as on a real node.
//! Shutdown fails with `VM quit/powerdown failed - got timeout` for a guest with `acpi: 0`
//! whose agent is absent, unless `forceStop=1`.

use std::time::Instant;

use serde_json::json;

use super::Cx;
use super::authn::require;
use super::reply::{ApiError, ApiResult, ok};
use super::tasks::spawn;
use crate::model::store::Kind;
use crate::model::{Inner, Power, State};

pub(crate) fn action(cx: &Cx, node: &str, kind: Kind, vmid: u32, action: &str) -> ApiResult {
    let qemu = kind == Kind::Qemu;
    let (task, secs) = match (action, qemu) {
        ("start", true) => ("qmstart", 1.5),
        ("start", false) => ("vzstart", 1.0),
        ("stop", true) => ("qmstop", 0.6),
        ("stop", false) => ("vzstop", 0.5),
        ("shutdown", true) => ("qmshutdown", 2.0),
        ("shutdown", false) => ("vzshutdown", 1.5),
        ("reboot", true) => ("qmreboot", 2.5),
        ("reboot", false) => ("vzreboot", 2.0),
        ("reset", true) => ("qmreset", 0.3),
        ("suspend", true) if cx.p.flag("todisk")? => ("qmsuspend", 2.0),
        ("suspend", true) => ("qmpause", 0.3),
        ("suspend", false) => ("vzsuspend", 1.0),
        ("resume", true) => ("qmresume", 0.3),
        ("resume", false) => ("vzresume", 0.5),
        _ => {
            return Err(ApiError::NotImplemented(format!(
                "POST /nodes/{node}/{}/{vmid}/status/{action}",
                kind.as_str()
            )));
        }
    };
    let skiplock = cx.p.flag("skiplock")?;
    let force_stop = cx.p.flag("forceStop")?;
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.PowerMgmt")?;
    let power = inner.rt(vmid).power;
    let what = if qemu { "VM" } else { "CT" };
    if matches!(
        action,
        "reboot" | "reset" | "suspend" | "resume" | "shutdown"
    ) && power == Power::Stopped
    {
        return Err(ApiError::msg(format!("{what} {vmid} not running")));
    }
    let action = action.to_string();
    let todisk = task == "qmsuspend";
    let job = Box::new(
        move |inner: &mut Inner, st: &State| -> Result<Vec<String>, String> {
            let conf = inner
                .store
                .get(vmid)
                .map(|g| g.conf.clone())
                .ok_or_else(|| format!("{what} {vmid} does not exist"))?;
            let now = st.now();
            let lock = conf.get("lock").filter(|_| !skiplock).map(str::to_string);
            let rt = inner.rt(vmid);
            let mut log = Vec::new();
            match action.as_str() {
                "start" => {
                    if conf.is_template() {
                        return Err("you can't start a vm if it's a template".into());
                    }
                    if let Some(lock) = lock.filter(|l| l != "suspended") {
                        return Err(format!("{what} is locked ({lock})"));
                    }
                    if rt.power != Power::Stopped {
                        return Err(format!("{what} {vmid} already running"));
                    }
                    rt.power = Power::Running;
                    rt.started = now;
                    rt.since = Some(Instant::now());
                    if conf.main.keys().any(|k| k.starts_with("ipconfig"))
                        || conf.get("cicustom").is_some()
                    {
                        log.push("generating cloud-init ISO".into());
                    }
                }
                "stop" => {
                    rt.power = Power::Stopped;
                    rt.since = None;
                }
                "shutdown" => {
                    if rt.power == Power::Paused {
                        return Err(format!("{what} is paused - cannot shutdown"));
                    }
                    // A guest that ignores ACPI (`acpi: 0`) and has no answering agent never
                    // powers down: PVE waits out the timeout and fails unless forceStop=1.
                    let ignores = conf.get("acpi") == Some("0")
                        && rt.agent == crate::model::AgentMode::Absent;
                    if ignores && !force_stop {
                        return Err("VM quit/powerdown failed - got timeout".into());
                    }
                    rt.power = Power::Stopped;
                    rt.since = None;
                }
                "reboot" => {
                    if rt.power == Power::Stopped {
                        return Err(format!("{what} {vmid} not running"));
                    }
                    rt.power = Power::Running;
                    rt.started = now;
                    rt.since = Some(Instant::now());
                }
                "reset" => {
                    rt.started = now;
                    rt.since = Some(Instant::now());
                }
                "suspend" if todisk => {
                    rt.power = Power::Stopped;
                    rt.since = None;
                    let mut conf = conf.clone();
                    conf.main.insert("lock".into(), "suspended".into());
                    let node = inner
                        .store
                        .get(vmid)
                        .map(|g| g.node.clone())
                        .unwrap_or_default();
                    inner
                        .store
                        .write(vmid, &node, Kind::Qemu, &conf)
                        .map_err(|e| e.to_string())?;
                }
                "suspend" => {
                    if rt.power == Power::Stopped {
                        return Err(format!("{what} {vmid} not running"));
                    }
                    rt.power = Power::Paused;
                }
                "resume" => {
                    if rt.power == Power::Stopped {
                        return Err(format!("{what} {vmid} not running"));
                    }
                    rt.power = Power::Running;
                }
                _ => {}
            }
            // PVE applies pending changes when the VM (re)starts.
            if matches!(action.as_str(), "start" | "reboot") {
                let mut fresh = conf.clone();
                if super::qemu_config::apply_pending(&mut fresh) {
                    let node = inner
                        .store
                        .get(vmid)
                        .map(|g| g.node.clone())
                        .unwrap_or_default();
                    inner
                        .store
                        .write(vmid, &node, kind, &fresh)
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(log)
        },
    );
    let upid = spawn(
        cx,
        &mut inner,
        node,
        task,
        Some(vmid),
        &vmid.to_string(),
        secs,
        job,
    );
    ok(json!(upid))
}
