//! Worker tasks: starting them (every asynchronous PVE call returns a UPID at once and does
//! its work in a forked worker) and the `/nodes/{n}/tasks` endpoints.
//!
//! A task sleeps for a realistic, scaled duration, then runs its job under the model lock and
//! records `OK` or the error text as `exitstatus`. While it runs it holds the guest's config
//! lock (PVE's `flock` on `/var/lock/qemu-server/lock-<vmid>.conf`), so concurrent
//! synchronous config writes wait and may time out. Injected task faults replace the job's
//! result with the configured error.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::Cx;
use super::reply::{ApiError, ApiResult, Reply, ok};
use crate::model::tasks::{Task, Upid};
use crate::model::{Inner, State};

/// The job a task performs when its time is up.
pub(crate) type Job = Box<dyn FnOnce(&mut Inner, &State) -> Result<Vec<String>, String> + Send>;

/// Starts a task on `node` and returns its UPID.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn(
    cx: &Cx,
    inner: &mut Inner,
    node: &str,
    kind: &str,
    vmid: Option<u32>,
    id: &str,
    secs: f64,
    job: Job,
) -> String {
    let upid = start(cx, inner, node, kind, id);
    if let Some(vmid) = vmid {
        inner.rt(vmid).flock = true;
    }
    let st: Arc<State> = cx.st.clone();
    let delay = st.cfg.scaled(secs);
    let (upid2, kind) = (upid.clone(), kind.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut inner = st.lock();
        let fault = st.faults().take_task(&kind, vmid);
        let result = match fault {
            Some(message) => Err(message),
            None => job(&mut inner, &st),
        };
        if let Some(vmid) = vmid
            && let Some(rt) = inner.runtime.get_mut(&vmid)
        {
            rt.flock = false;
        }
        let end = st.now();
        inner.tasks.finish(&upid2, end, result);
    });
    upid
}

/// Registers a running task on `node` and returns its UPID; whoever does the work calls
/// `tasks.finish` (`spawn` for work done under the model lock after a delay).
pub(crate) fn start(cx: &Cx, inner: &mut Inner, node: &str, kind: &str, id: &str) -> String {
    let now = cx.st.now();
    let boot = inner.node(node).map_or(now, |n| n.boot);
    inner
        .tasks
        .start(node, kind, id, &cx.ident.authid, now, boot)
}

/// Parses `{upid}` and checks it belongs to `{node}` and exists.
fn find<'a>(inner: &'a Inner, node: &str, text: &str) -> Result<&'a Task, ApiError> {
    let upid =
        Upid::parse(text).ok_or_else(|| ApiError::param("upid", "unable to parse worker upid"))?;
    if upid.node != node {
        return Err(ApiError::param("upid", "no such task"));
    }
    inner
        .tasks
        .get(text)
        .ok_or_else(|| ApiError::param("upid", "no such task"))
}

fn task_json(t: &Task, list: bool) -> Value {
    let mut m = Map::new();
    m.insert("upid".into(), json!(t.upid));
    m.insert("node".into(), json!(t.node));
    m.insert("pid".into(), json!(t.pid));
    m.insert("pstart".into(), json!(t.pstart));
    m.insert("starttime".into(), json!(t.starttime));
    m.insert("type".into(), json!(t.kind));
    m.insert("id".into(), json!(t.id));
    if list {
        m.insert("user".into(), json!(t.authid));
        if let Some((end, status)) = &t.end {
            m.insert("endtime".into(), json!(end));
            m.insert("status".into(), json!(status));
        }
    } else {
        // Status splits a token authid into user + tokenid.
        match t.authid.split_once('!') {
            Some((user, token)) => {
                m.insert("user".into(), json!(user));
                m.insert("tokenid".into(), json!(token));
            }
            None => {
                m.insert("user".into(), json!(t.authid));
            }
        }
        match &t.end {
            None => {
                m.insert("status".into(), json!("running"));
            }
            Some((_, exit)) => {
                m.insert("status".into(), json!("stopped"));
                m.insert("exitstatus".into(), json!(exit));
            }
        }
    }
    Value::Object(m)
}

pub(crate) fn status(cx: &Cx, node: &str, upid: &str) -> ApiResult {
    let inner = cx.st.lock();
    ok(task_json(find(&inner, node, upid)?, false))
}

pub(crate) fn index(cx: &Cx, node: &str, upid: &str) -> ApiResult {
    let inner = cx.st.lock();
    find(&inner, node, upid)?;
    ok(json!([{"name": "log"}, {"name": "status"}]))
}

pub(crate) fn log(cx: &Cx, node: &str, upid: &str) -> ApiResult {
    let inner = cx.st.lock();
    let t = find(&inner, node, upid)?;
    let start = cx.p.int("start")?.unwrap_or(0).max(0) as usize;
    let limit = cx.p.int("limit")?.unwrap_or(50).max(0) as usize;
    let mut lines: Vec<&str> = t.log.iter().map(String::as_str).collect();
    if lines.is_empty() {
        // A running task with no output yet shows "no content" as PVE's log reader does.
        lines.push("no content");
    }
    let total = lines.len();
    let data: Vec<Value> = lines
        .iter()
        .enumerate()
        .skip(start)
        .take(limit)
        .map(|(i, t)| json!({"n": i + 1, "t": t}))
        .collect();
    Ok(Reply::Total(Value::Array(data), total))
}

pub(crate) fn stop(cx: &Cx, node: &str, upid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    find(&inner, node, upid)?;
    let now = cx.st.now();
    inner
        .tasks
        .finish(upid, now, Err("received interrupt".into()));
    ok(Value::Null)
}

/// `GET /cluster/tasks`: recent tasks of all nodes, running ones included, newest first
/// (pve-manager serves the last 50 or so from the cluster task log).
pub(crate) fn cluster_list(cx: &Cx) -> ApiResult {
    let inner = cx.st.lock();
    let data: Vec<Value> = inner
        .tasks
        .all()
        .rev()
        .take(50)
        .map(|t| task_json(t, true))
        .collect();
    ok(Value::Array(data))
}

/// `GET /nodes/{n}/tasks`: finished tasks (source=archive) by default, newest first.
pub(crate) fn list(cx: &Cx, node: &str) -> ApiResult {
    let inner = cx.st.lock();
    let source = cx.p.get("source").unwrap_or("archive");
    let vmid = cx.p.get("vmid");
    let typefilter = cx.p.get("typefilter");
    let errors = cx.p.flag("errors")?;
    let start = cx.p.int("start")?.unwrap_or(0).max(0) as usize;
    let limit = cx.p.int("limit")?.unwrap_or(50).max(0) as usize;
    let matching: Vec<&Task> = inner
        .tasks
        .all()
        .rev()
        .filter(|t| t.node == node)
        .filter(|t| match source {
            "active" => t.end.is_none(),
            "all" => true,
            _ => t.end.is_some(),
        })
        .filter(|t| vmid.is_none_or(|v| t.id == v))
        .filter(|t| typefilter.is_none_or(|f| t.kind == f))
        .filter(|t| !errors || t.end.as_ref().is_some_and(|(_, s)| s != "OK"))
        .collect();
    let total = matching.len();
    let data: Vec<Value> = matching
        .into_iter()
        .skip(start)
        .take(limit)
        .map(|t| task_json(t, true))
        .collect();
    Ok(Reply::Total(Value::Array(data), total))
}
