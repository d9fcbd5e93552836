//! The job engine: everything slow that Proxlab does for people (deploy a class, reset,
//! publish, respec, remove a VM, delete a class) runs as a durable job.
//!
//! The rules (ARCHITECTURE §2, §4, and the README's "Job engine"):
//! - the intent (the class, one `class_vms` row per VM with its MACs, the job) is in the
//!   database before anything is made on a node ([`queue`]);
//! - a worker claims a job with a lease and a fencing counter ([`lease`]); every write of
//!   the job is fenced, so a runner that stalled and was replaced changes nothing more, and
//!   a job whose runner died is claimed again when the lease runs out and resumed from its
//!   rows;
//! - every step is idempotent and what it made is recorded in the same write that marks it
//!   done ([`steps`]), so a crash between any two writes resumes without duplicates;
//! - `workers` workers run jobs of different classes at once, jobs of one class in order,
//!   urgent single-VM work first; per-node limits hold across all of them ([`slots`]);
//! - shutdown stops taking jobs, lets the node step under way finish (bounded), and hands
//!   the job back ([`pool`]).
//!
//! Layers, top to bottom: `pool` → `kinds` (one module per [`JobKind`], the registry) →
//! `steps` (shared VM steps, rows, disks) → `run` (`JobRun`: fenced writes, checkpoints) →
//! `lease`, `slots`, `faults`, `error`, `settings`. Nothing imports upwards.

pub mod admin;
mod error;
mod faults;
mod kinds;
mod lease;
mod pool;
mod queue;
mod run;
pub(crate) mod settings;
mod slots;
mod steps;

pub use error::JobError;
pub use faults::{FaultAction, FaultPoint, Faults, InjectedCrash};
pub use lease::MAX_CLAIMS;
pub use queue::{cancel_class_jobs, ensure_idle, queue, queue_power, queue_snapshot};
pub use run::Outcome;
pub use settings::{JobSettings, JobTrigger};

use crate::Services;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[cfg(doc)]
use crate::model::JobKind;

/// Starts the workers on `services.tasks`; they resume unfinished jobs at once, then run
/// jobs as they come, until `services.shutdown` fires. A running job then gets `grace` to
/// reach its next checkpoint before it is dropped and handed back.
pub fn spawn_workers(services: &Services, settings: JobSettings, grace: Duration) {
    spawn_workers_with(services, settings, grace, Faults::default());
}

/// [`spawn_workers`] with a fault-injection hook (tests and benchmarks: the hook also sees
/// when each VM step begins and ends).
pub fn spawn_workers_with(
    services: &Services,
    settings: JobSettings,
    grace: Duration,
    faults: Faults,
) {
    let trigger = services.jobs.clone();
    let workers = settings.workers.max(1);
    // A little less than the process's grace, so the lease is handed back before it exits.
    let job_grace = grace.saturating_sub((grace / 4).min(Duration::from_secs(2)));
    let pool = pool::Pool::new(
        services.clone(),
        settings,
        faults,
        services.shutdown.clone(),
        job_grace,
    );
    for i in 0..workers {
        services
            .tasks
            .spawn(pool.clone().worker(i, Some(trigger.clone())));
    }
}

/// Runs every job that can be claimed now, until none is left; returns how many ran.
/// For tests, benchmarks and the command line.
pub async fn run_until_idle(services: &Services, settings: &JobSettings) -> crate::Result<usize> {
    run_until_idle_with(services, settings, Faults::default()).await
}

/// [`run_until_idle`] with a fault-injection hook (tests).
pub async fn run_until_idle_with(
    services: &Services,
    settings: &JobSettings,
    faults: Faults,
) -> crate::Result<usize> {
    let pool = pool::Pool::new(
        services.clone(),
        settings.clone(),
        faults,
        CancellationToken::new(),
        Duration::from_secs(20),
    );
    pool::run_until_idle(pool).await
}
