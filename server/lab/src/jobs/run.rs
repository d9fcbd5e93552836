//! `JobRun`: what a job kind gets to do its work, and the only way it reaches the database
//! and the nodes: every write goes through [`JobRun::begin`] (a fenced transaction) and every
//! node command or Proxmox call is preceded by [`JobRun::checkpoint`]. Both are crash points
//! for the fault-injection tests.

use super::error::JobError;
use super::faults::{FaultAction, FaultPoint, Faults, InjectedCrash};
use super::lease::Lease;
use super::settings::JobSettings;
use super::slots::{NodeSlots, Slot, Urgency};
use crate::Services;
use crate::db::entity::job;
use crate::model::JobState;
use sea_orm::{DatabaseTransaction, TransactionTrait};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How a job ended when it was not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Cancelled,
}

pub struct JobRun {
    pub services: Services,
    pub settings: JobSettings,
    /// The row as it was claimed.
    pub job: job::Model,
    pub(super) lease: Lease,
    faults: Faults,
    slots: Arc<NodeSlots>,
    /// Shutdown: stop at the next checkpoint.
    stop: CancellationToken,
    /// Set while an injected stall lasts: the heartbeat does not renew (a frozen process).
    pub(super) stalled: AtomicBool,
    /// When a renewal outside a transaction last succeeded (see [`JobRun::renew`]).
    renewed: Mutex<Option<Instant>>,
}

impl JobRun {
    pub(super) fn new(
        services: Services,
        settings: JobSettings,
        job: job::Model,
        lease: Lease,
        faults: Faults,
        slots: Arc<NodeSlots>,
        stop: CancellationToken,
    ) -> JobRun {
        JobRun {
            services,
            settings,
            job,
            lease,
            faults,
            slots,
            stop,
            stalled: AtomicBool::new(false),
            renewed: Mutex::new(None),
        }
    }

    /// Renews the lease (fenced) and returns the job as it is now, unless a renewal succeeded
    /// a moment ago: no other runner can have taken the job since, because that needs the
    /// lease to run out first, and the moment is a tenth of the lease (at most 1 s). This
    /// spares a write per VM step when many steps run at once. `None`: skipped.
    pub(super) async fn renew(&self) -> Result<Option<job::Model>, JobError> {
        let fresh = Duration::from_millis((self.lease.secs as u64 * 100).min(1000));
        let last = *self.renewed.lock().expect("renewed lock");
        if last.is_some_and(|at| at.elapsed() < fresh) {
            return Ok(None);
        }
        let started = Instant::now();
        let now = self.lease.renew(&self.services.db).await?;
        *self.renewed.lock().expect("renewed lock") = Some(started);
        Ok(Some(now))
    }

    async fn fault_point(&self, label: &'static str, vmid: Option<i32>, write: bool) {
        // A stall freezes the whole job (every VM step under way), as a frozen process.
        while self.stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let point = FaultPoint {
            job_id: self.job.id,
            vmid,
            label,
            write,
        };
        match self.faults.at(&point) {
            FaultAction::Go => {}
            FaultAction::Crash => std::panic::panic_any(InjectedCrash(point)),
            FaultAction::Stall(d) => {
                self.stalled.store(true, Ordering::SeqCst);
                tokio::time::sleep(d).await;
                self.stalled.store(false, Ordering::SeqCst);
            }
        }
    }

    /// Before a node command or Proxmox call that must not be cut short by a cancel (the
    /// row already says the step is under way): stops if the portal shuts down or this
    /// runner no longer holds the lease, and renews the lease otherwise.
    pub async fn guard(&self, label: &'static str, vmid: Option<i32>) -> Result<(), JobError> {
        self.fault_point(label, vmid, false).await;
        if self.stop.is_cancelled() {
            return Err(JobError::Stopping);
        }
        self.renew().await.map(drop)
    }

    /// Like [`JobRun::guard`], and also stops when the job was asked to stop (a cancel).
    pub async fn checkpoint(&self, label: &'static str, vmid: Option<i32>) -> Result<(), JobError> {
        self.fault_point(label, vmid, false).await;
        if self.stop.is_cancelled() {
            return Err(JobError::Stopping);
        }
        if let Some(now) = self.renew().await?
            && now.state == JobState::Cancelling
        {
            return Err(JobError::Cancelled);
        }
        Ok(())
    }

    /// A transaction for one write, fenced: it fails with `LeaseLost` (and writes nothing)
    /// when another runner holds the job now. Commit it right after the write.
    pub async fn begin(
        &self,
        label: &'static str,
        vmid: Option<i32>,
    ) -> Result<DatabaseTransaction, JobError> {
        self.fault_point(label, vmid, true).await;
        let txn = self.services.db.begin().await?;
        self.lease.renew(&txn).await?;
        Ok(txn)
    }

    /// The order a `power` or `snapshot` job carries in its detail (JSON).
    pub fn order<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobError> {
        self.job
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .ok_or_else(|| {
                JobError::Permanent(crate::Error::Internal(format!(
                    "{} job {} has no order",
                    self.job.kind, self.job.id
                )))
            })
    }

    /// The VM a single-VM job (reset, remove) is about.
    pub fn job_vmid(&self) -> Result<i32, JobError> {
        self.job.vmid.ok_or_else(|| {
            JobError::Permanent(crate::Error::Internal(format!(
                "{} job {} names no VM",
                self.job.kind, self.job.id
            )))
        })
    }

    /// A slot on `node` for one VM step, shared with every other job of this runner.
    pub async fn node_slot(&self, cluster_id: i32, node: &str) -> Slot {
        let urgency = if self.job.kind.priority() > 0 {
            Urgency::Urgent
        } else {
            Urgency::Bulk
        };
        self.slots.acquire(cluster_id, node, urgency).await
    }
}
