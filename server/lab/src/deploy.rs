//! Class deployment, reset, publish and delete as durable, resumable jobs.
//!
//! The rules (ARCHITECTURE §2, §4):
//! - the intent (class, one `class_vms` row per VM with its MACs, the job) is in the database
//!   before anything is made on a node;
//! - a runner claims a job by taking its lease in one UPDATE, and renews the lease while it
//!   works; a job whose runner died (crash, SIGKILL, restart) is claimed again when the lease
//!   runs out and resumed from its rows;
//! - every step is idempotent (check, then act; files appear by rename), so re-running a
//!   step after a crash at any point finishes it instead of duplicating it;
//! - progress is committed after every step; no transaction is held across a remote call;
//! - a VM that keeps failing is retried a bounded number of times, then its files and config
//!   are removed, so nothing half-made stays behind.

mod claim;
mod context;
mod create;
mod delete;
mod publish;
mod reset;
mod respec;

use crate::Services;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Wakes the runner when a job is queued.
#[derive(Clone, Default)]
pub struct JobTrigger(Arc<Notify>);

impl JobTrigger {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The `[deploy]` settings.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploySettings {
    /// VMs made at the same time per node (each is one `qemu-img` + one config write).
    pub per_node: usize,
    /// Attempts per VM before it is cleaned up and marked failed.
    pub attempts: i32,
    /// A job's lease; a runner that stops renewing it (crash) loses the job after this long.
    pub lease_secs: i64,
}

impl Default for DeploySettings {
    fn default() -> Self {
        Self {
            per_node: 4,
            attempts: 3,
            lease_secs: 30,
        }
    }
}

/// How a job ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Done,
    Cancelled,
}

/// Starts the job runner: it resumes unfinished jobs at once, then runs jobs as they come.
pub fn spawn_runner(services: Services, settings: DeploySettings) -> JoinHandle<()> {
    tokio::spawn(async move {
        let owner = crate::token::random_token();
        loop {
            match claim::run_available(&services, &settings, &owner).await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "job runner"),
            }
            tokio::select! {
                _ = services.jobs.0.notified() => {}
                // Also look again now and then: a lease may have run out (a runner died).
                _ = tokio::time::sleep(Duration::from_secs(settings.lease_secs.max(1) as u64)) => {}
            }
        }
    })
}

/// Runs every job that can be claimed now, until none is left; returns how many ran.
/// For tests, benchmarks and the command line.
pub async fn run_until_idle(
    services: &Services,
    settings: &DeploySettings,
) -> crate::Result<usize> {
    let owner = crate::token::random_token();
    claim::run_available(services, settings, &owner).await
}
