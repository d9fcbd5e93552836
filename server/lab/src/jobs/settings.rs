//! The engine's settings and its wake-up call: a leaf, so that `Services` (which holds the
//! trigger) and the engine's own modules can use them without importing the engine.

use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::Notify;

/// Wakes a worker when a job is queued.
#[derive(Clone, Default)]
pub struct JobTrigger(pub(super) Arc<Notify>);

impl JobTrigger {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The `[jobs]` settings (`[deploy]` in older files).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// Jobs run at the same time (of different classes).
    pub workers: usize,
    /// VM steps at the same time per node, across all jobs (each is one `qemu-img` + one
    /// config write, or one Proxmox task).
    pub per_node: usize,
    /// Attempts per VM before it is cleaned up and marked failed.
    pub attempts: i32,
    /// A job's lease; a runner that stops renewing it (crash) loses the job after this long.
    pub lease_secs: i64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            workers: 4,
            per_node: 4,
            attempts: 3,
            lease_secs: 30,
        }
    }
}
