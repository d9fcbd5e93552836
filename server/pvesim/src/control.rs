//! Test controls: faults on demand and per-endpoint call counters, reachable in-process
//! through [`Control`] and over HTTP under `/_sim/` (see [`http`]), outside `/api2` so no
//! PVE client can hit them by accident.

pub(crate) mod http;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Profile;
use crate::model::{AgentMode, NodeState, State};

/// A path that answers 500 for its next calls.
#[derive(Debug, Clone)]
pub(crate) struct PathFault {
    /// Matched against the request path below `/api2/json` (prefix) or the route key.
    pub pattern: String,
    pub remaining: u32,
    pub message: String,
}

/// A task type (and optionally guest) whose next tasks fail.
#[derive(Debug, Clone)]
pub(crate) struct TaskFault {
    pub kind: Option<String>,
    pub vmid: Option<u32>,
    pub remaining: u32,
    pub message: String,
}

/// Active faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub latency: Duration,
    pub paths: Vec<PathFault>,
    pub tasks: Vec<TaskFault>,
}

impl Faults {
    /// Consumes one matching path fault, returning its message.
    pub(crate) fn take_path(&mut self, path: &str, route: &str) -> Option<String> {
        let f = self
            .paths
            .iter_mut()
            .find(|f| f.remaining > 0 && (path.starts_with(&f.pattern) || route == f.pattern))?;
        f.remaining -= 1;
        let msg = f.message.clone();
        self.paths.retain(|f| f.remaining > 0);
        Some(msg)
    }

    /// Consumes one matching task fault, returning its message.
    pub(crate) fn take_task(&mut self, kind: &str, vmid: Option<u32>) -> Option<String> {
        let f = self.tasks.iter_mut().find(|f| {
            f.remaining > 0
                && f.kind.as_deref().is_none_or(|k| k == kind)
                && f.vmid.is_none_or(|v| Some(v) == vmid)
        })?;
        f.remaining -= 1;
        let msg = f.message.clone();
        self.tasks.retain(|f| f.remaining > 0);
        Some(msg)
    }
}

/// In-process handle to a running simulator's controls. Cheap to clone.
#[derive(Clone)]
pub struct Control {
    pub(crate) state: Arc<State>,
}

impl Control {
    /// Adds this latency to every API call (0 removes it).
    pub fn set_latency(&self, latency: Duration) {
        self.state.faults().latency = latency;
    }

    /// Sets a node online, offline (595 at once) or timing out (596 after a delay).
    /// Returns false for an unknown node.
    pub fn set_node_state(&self, node: &str, state: NodeState) -> bool {
        let mut inner = self.state.lock();
        let now = self.state.now();
        match inner.nodes.iter_mut().find(|n| n.name == node) {
            Some(n) => {
                if n.state != NodeState::Online && state == NodeState::Online {
                    n.boot = now;
                }
                n.state = state;
                true
            }
            None => false,
        }
    }

    /// Sets how a guest's agent behaves.
    pub fn set_agent(&self, vmid: u32, mode: AgentMode) {
        self.state.lock().rt(vmid).agent = mode;
    }

    /// Gives a guest its own load profile (`None`: back to the simulator's), from now on:
    /// cpu, memory and the byte rates follow it, the cumulative counters keep what they
    /// counted so far. Returns false for an unknown guest.
    pub fn set_load(&self, vmid: u32, profile: Option<Profile>) -> bool {
        let mut inner = self.state.lock();
        inner.refresh();
        if !inner.store.contains(vmid) {
            return false;
        }
        let now = self.state.now();
        inner.rt(vmid).load.set(now, profile);
        true
    }

    /// A guest's own load profile (`None`: none, or an unknown guest).
    pub fn load(&self, vmid: u32) -> Option<Profile> {
        self.state
            .lock()
            .runtime
            .get(&vmid)
            .and_then(|rt| rt.load.current())
    }

    /// Makes the next `count` tasks of `kind` (e.g. `qmstart`; `None` = any) for `vmid`
    /// (`None` = any) fail with `message`.
    pub fn fail_tasks(&self, kind: Option<&str>, vmid: Option<u32>, count: u32, message: &str) {
        self.state.faults().tasks.push(TaskFault {
            kind: kind.map(Into::into),
            vmid,
            remaining: count,
            message: message.into(),
        });
    }

    /// Makes the next `count` calls whose path starts with `pattern` (below `/api2/json`,
    /// e.g. `/cluster/resources`) or whose route key equals it answer `500 message`.
    pub fn fail_path(&self, pattern: &str, count: u32, message: &str) {
        self.state.faults().paths.push(PathFault {
            pattern: pattern.into(),
            remaining: count,
            message: message.into(),
        });
    }

    /// Holds (or releases) a guest's config lock as a running task would, so writes wait
    /// and then fail with "can't lock file ... got timeout".
    pub fn hold_config_lock(&self, vmid: u32, held: bool) {
        self.state.lock().rt(vmid).flock = held;
    }

    /// Removes every fault (latency, path and task faults).
    pub fn clear_faults(&self) {
        *self.state.faults() = crate::control::Faults::default();
    }

    /// Calls per route since start or the last reset, keyed like
    /// `GET /nodes/{node}/qemu/{vmid}/status/current`.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.state
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Calls of one route key.
    pub fn count(&self, route: &str) -> u64 {
        self.counters().get(route).copied().unwrap_or(0)
    }

    pub fn reset_counters(&self) {
        self.state
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Moves the simulated clock forward (tickets expire, uptimes grow).
    pub fn advance_clock(&self, by: Duration) {
        self.state.clock.advance(by);
    }

    /// Text typed into consoles of `vmid` so far (`None` = node shells): RFB key events
    /// (printable keysyms, Return as `\n`) and terminal input.
    pub fn console_input(&self, vmid: Option<u32>) -> String {
        self.state
            .lock()
            .typed
            .get(&vmid.unwrap_or(0))
            .cloned()
            .unwrap_or_default()
    }

    /// Number of guests currently registered (files found).
    pub fn guest_count(&self) -> usize {
        let mut inner = self.state.lock();
        inner.refresh();
        inner.store.len()
    }
}
