//! The worker pool: `workers` loops that each claim the most urgent job they may run, run it
//! to its end with a heartbeat renewing the lease, and look again. Jobs of different classes
//! run side by side; jobs of one class wait for each other (the claim's rule); every VM step
//! takes a slot on its node (`NodeSlots`), so per-node limits hold across all jobs.
//!
//! Shutdown (the stop token): workers take no new job; a running job stops at its next
//! checkpoint (the node step under way finishes), or is dropped after the grace period; its
//! lease is released so another instance resumes it at once.

use super::error::JobError;
use super::faults::{Faults, InjectedCrash};
use super::kinds;
use super::lease::{self, Lease, MAX_CLAIMS};
use super::run::{JobRun, Outcome};
use super::settings::{JobSettings, JobTrigger};
use super::slots::NodeSlots;
use crate::db::entity::job;
use crate::model::JobState;
use crate::{Result, Services, metrics};
use futures_util::FutureExt;
use sea_orm::EntityTrait;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct Pool {
    services: Services,
    settings: JobSettings,
    faults: Faults,
    slots: Arc<NodeSlots>,
    /// This pool's name in lease owners (`jobs/<host>:<pid>/<random>/<worker>`).
    name: String,
    stop: CancellationToken,
    grace: Duration,
    /// Workers running a job right now.
    running: AtomicUsize,
    /// A job ended: waiting workers look again.
    ended: Notify,
    ran: AtomicUsize,
    /// An injected crash "killed the process": no worker of this pool takes another job.
    dead: AtomicBool,
}

impl Pool {
    pub fn new(
        services: Services,
        settings: JobSettings,
        faults: Faults,
        stop: CancellationToken,
        grace: Duration,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            slots: Arc::new(NodeSlots::new(settings.per_node)),
            services,
            settings,
            faults,
            name: crate::leases::owner("jobs"),
            stop,
            grace,
            running: AtomicUsize::new(0),
            ended: Notify::new(),
            ran: AtomicUsize::new(0),
            dead: AtomicBool::new(false),
        })
    }

    pub fn ran(&self) -> usize {
        self.ran.load(Ordering::SeqCst)
    }

    /// One worker. With `trigger`, it runs until the stop token fires, waking when a job is
    /// queued; without, it returns once it finds nothing to claim while no worker of the
    /// pool runs a job (a job that ends may unblock the next job of its class).
    pub async fn worker(self: Arc<Self>, index: usize, trigger: Option<JobTrigger>) {
        let owner = format!("{}/{index}", self.name);
        let lease_secs = self.settings.lease_secs;
        loop {
            if self.stop.is_cancelled() || self.dead.load(Ordering::SeqCst) {
                return;
            }
            // Made before looking, so a job that ends meanwhile is not missed.
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            match lease::claim(&self.services, &owner, lease_secs).await {
                Ok(Some(lease)) => {
                    self.running.fetch_add(1, Ordering::SeqCst);
                    self.run_one(lease).await;
                    self.ran.fetch_add(1, Ordering::SeqCst);
                    self.running.fetch_sub(1, Ordering::SeqCst);
                    self.ended.notify_waiters();
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "job claim"),
            }
            if trigger.is_none() && self.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            let queued = async {
                match &trigger {
                    Some(t) => t.0.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = queued => {}
                _ = &mut ended => {}
                // Also look again now and then: a lease may have run out (a runner died).
                _ = tokio::time::sleep(Duration::from_secs(lease_secs.max(1) as u64)) => {}
                _ = self.stop.cancelled() => return,
            }
        }
    }

    async fn run_one(&self, lease: Lease) {
        let db = &self.services.db;
        let job = match job::Entity::find_by_id(lease.job_id).one(db).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(job = lease.job_id, error = %e, "claimed job unreadable");
                return;
            }
        };
        if job.attempts > MAX_CLAIMS {
            let error = format!(
                "The job was interrupted {MAX_CLAIMS} times without finishing; it was stopped."
            );
            let _ = lease.finish(db, JobState::Failed, Some(error)).await;
            return;
        }
        let run = Arc::new(JobRun::new(
            self.services.clone(),
            self.settings.clone(),
            job,
            lease.clone(),
            self.faults.clone(),
            self.slots.clone(),
            self.stop.clone(),
        ));
        let _heartbeat = AbortOnDrop(heartbeat(run.clone()));
        let started = std::time::Instant::now();
        let work = AssertUnwindSafe(kinds::run(&run)).catch_unwind();
        tokio::pin!(work);
        let ended = tokio::select! {
            ended = &mut work => Some(ended),
            _ = self.stop.cancelled() => tokio::time::timeout(self.grace, &mut work).await.ok(),
        };
        let outcome = match ended {
            Some(Ok(outcome)) => outcome,
            Some(Err(panic)) => {
                // The runner "died" here: leave the lease to run out, as a killed process
                // would, so the job is resumed from its rows.
                match panic.downcast_ref::<InjectedCrash>() {
                    Some(InjectedCrash(at)) => {
                        tracing::info!(?at, "injected crash");
                        self.dead.store(true, Ordering::SeqCst);
                    }
                    None => tracing::error!(job = lease.job_id, "job panicked"),
                }
                return;
            }
            // Past the grace period: the step under way is dropped (every step is idempotent).
            None => Err(JobError::Stopping),
        };
        let (recorded, ended_as) = match outcome {
            Ok(Outcome::Done) => (
                lease.finish(db, JobState::Done, None).await,
                Some(JobState::Done),
            ),
            Ok(Outcome::Cancelled) => (
                lease.finish(db, JobState::Cancelled, None).await,
                Some(JobState::Cancelled),
            ),
            Err(JobError::Stopping) => (lease.release(db).await, None),
            Err(JobError::LeaseLost) => (Err(JobError::LeaseLost), None),
            Err(e) => {
                tracing::warn!(job = lease.job_id, kind = %run.job.kind, error = %e, "job failed");
                let error = Some(e.to_string());
                let recorded = lease.finish(db, JobState::Failed, error).await;
                (recorded, Some(JobState::Failed))
            }
        };
        match recorded {
            Ok(()) => {
                if let Some(state) = ended_as {
                    let kind = run.job.kind.as_str();
                    metrics::job_ended(kind, state.as_str(), started.elapsed());
                }
            }
            Err(JobError::LeaseLost) => {
                tracing::warn!(
                    job = lease.job_id,
                    "lost the job's lease; another runner has it"
                )
            }
            Err(e) => tracing::warn!(job = lease.job_id, error = %e, "job end not recorded"),
        }
        self.services.sync.wake();
    }
}

/// Renews the lease every third of its length while the job runs (not while an injected
/// stall lasts); stops once the lease is lost (the job notices at its next write).
fn heartbeat(run: Arc<JobRun>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = Duration::from_millis((run.lease.secs * 1000 / 3).max(200) as u64);
        loop {
            tokio::time::sleep(period).await;
            if run.stalled.load(Ordering::SeqCst) {
                continue;
            }
            if let Err(JobError::LeaseLost) = run.renew().await {
                return;
            }
        }
    })
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs every job that can be claimed now with `workers` workers, until none is left.
pub async fn run_until_idle(pool: Arc<Pool>) -> Result<usize> {
    let workers: Vec<_> = (0..pool.settings.workers.max(1))
        .map(|i| tokio::spawn(pool.clone().worker(i, None)))
        .collect();
    for w in workers {
        if let Err(e) = w.await {
            return Err(crate::Error::Internal(format!("job worker: {e}")));
        }
    }
    Ok(pool.ran())
}
