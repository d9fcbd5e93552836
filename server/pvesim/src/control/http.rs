//! The control API over HTTP (same port, under `/_sim/`, no authentication: the simulator
//! is a test tool listening on loopback). Plain JSON in and out, no PVE envelope.
//!
//! | call | body | effect |
//! |---|---|---|
//! | `GET /_sim/info` | | credentials, fingerprint, guest count |
//! | `GET /_sim/counters`, `DELETE /_sim/counters` | | read / reset call counters |
//! | `PUT /_sim/latency` | `{"ms":200}` | latency per API call |
//! | `PUT /_sim/nodes/{node}` | `{"state":"online"\|"offline"\|"timeout"}` | node reachability |
//! | `PUT /_sim/guests/{vmid}/agent` | `{"mode":"normal"\|"absent"\|"slow","ms":5000}` | guest agent |
//! | `PUT /_sim/guests/{vmid}/lock` | `{"held":true}` | hold the config flock |
//! | `PUT /_sim/guests/{vmid}/load` | `{"profile":"idle"\|"busy"\|"default"}` | the guest's own load profile (404: unknown guest) |
//! | `POST /_sim/faults/tasks` | `{"kind":"qmstart","vmid":100,"count":1,"message":"..."}` | failing tasks |
//! | `POST /_sim/faults/paths` | `{"pattern":"/cluster/resources","count":2,"message":"..."}` | 500 on next calls |
//! | `DELETE /_sim/faults` | | clear all faults |
//! | `POST /_sim/clock` | `{"advance_secs":7300}` | move the simulated clock |

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Control;
use crate::config::Profile;
use crate::model::{AgentMode, NodeState};

pub(crate) fn router(control: Control) -> Router {
    Router::new()
        .route("/_sim/info", get(info))
        .route("/_sim/counters", get(counters).delete(reset_counters))
        .route("/_sim/latency", put(latency))
        .route("/_sim/nodes/{node}", put(node))
        .route("/_sim/guests/{vmid}/agent", put(agent))
        .route("/_sim/guests/{vmid}/lock", put(lock))
        .route("/_sim/guests/{vmid}/load", put(load))
        .route("/_sim/faults/tasks", post(task_fault))
        .route("/_sim/faults/paths", post(path_fault))
        .route("/_sim/faults", delete(clear))
        .route("/_sim/clock", post(clock))
        .with_state(control)
}

async fn info(State(c): State<Control>) -> Json<Value> {
    let s = &c.state;
    Json(json!({
        "fingerprint": s.fingerprint,
        "root_password": s.root_password,
        "user_password": s.user_password,
        "token": format!("root@pam!pvesim={}", s.token_secret),
        "guests": c.guest_count(),
    }))
}

async fn counters(State(c): State<Control>) -> Json<Value> {
    Json(json!(c.counters()))
}

async fn reset_counters(State(c): State<Control>) -> StatusCode {
    c.reset_counters();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Ms {
    ms: u64,
}

async fn latency(State(c): State<Control>, Json(b): Json<Ms>) -> StatusCode {
    c.set_latency(Duration::from_millis(b.ms));
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct NodeBody {
    state: String,
}

async fn node(
    State(c): State<Control>,
    Path(node): Path<String>,
    Json(b): Json<NodeBody>,
) -> StatusCode {
    let state = match b.state.as_str() {
        "online" => NodeState::Online,
        "offline" => NodeState::Offline,
        "timeout" => NodeState::Timeout,
        _ => return StatusCode::BAD_REQUEST,
    };
    if c.set_node_state(&node, state) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

#[derive(Deserialize)]
struct AgentBody {
    mode: String,
    #[serde(default)]
    ms: u64,
}

async fn agent(
    State(c): State<Control>,
    Path(vmid): Path<u32>,
    Json(b): Json<AgentBody>,
) -> StatusCode {
    let mode = match b.mode.as_str() {
        "normal" => AgentMode::Normal,
        "absent" => AgentMode::Absent,
        "slow" => AgentMode::Slow(Duration::from_millis(b.ms)),
        _ => return StatusCode::BAD_REQUEST,
    };
    c.set_agent(vmid, mode);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct LockBody {
    held: bool,
}

async fn lock(
    State(c): State<Control>,
    Path(vmid): Path<u32>,
    Json(b): Json<LockBody>,
) -> StatusCode {
    c.hold_config_lock(vmid, b.held);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum LoadName {
    Idle,
    Busy,
    Default,
}

#[derive(Deserialize)]
struct LoadBody {
    profile: LoadName,
}

/// Parsed by hand so that any bad body (not JSON, no `profile`, an unknown name) is a 400.
async fn load(State(c): State<Control>, Path(vmid): Path<u32>, body: Bytes) -> StatusCode {
    let Ok(b) = serde_json::from_slice::<LoadBody>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let profile = match b.profile {
        LoadName::Idle => Some(Profile::Idle),
        LoadName::Busy => Some(Profile::Busy),
        LoadName::Default => None,
    };
    if c.set_load(vmid, profile) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

#[derive(Deserialize)]
struct TaskFaultBody {
    kind: Option<String>,
    vmid: Option<u32>,
    #[serde(default = "one")]
    count: u32,
    message: String,
}

fn one() -> u32 {
    1
}

async fn task_fault(State(c): State<Control>, Json(b): Json<TaskFaultBody>) -> StatusCode {
    c.fail_tasks(b.kind.as_deref(), b.vmid, b.count, &b.message);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct PathFaultBody {
    pattern: String,
    #[serde(default = "one")]
    count: u32,
    message: String,
}

async fn path_fault(State(c): State<Control>, Json(b): Json<PathFaultBody>) -> StatusCode {
    c.fail_path(&b.pattern, b.count, &b.message);
    StatusCode::NO_CONTENT
}

async fn clear(State(c): State<Control>) -> StatusCode {
    c.clear_faults();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct ClockBody {
    advance_secs: u64,
}

async fn clock(State(c): State<Control>, Json(b): Json<ClockBody>) -> StatusCode {
    c.advance_clock(Duration::from_secs(b.advance_secs));
    StatusCode::NO_CONTENT
}
