//! What `/health` tells an admin (or a monitor with an admin's session) beyond "the database
//! answers": each enabled cluster's last successful quick sync and its last error, the
//! workers at work (the leases held now: each cluster's sync and policy worker, each running
//! job, and which instance holds them), and the job engine's queue with the jobs that look
//! stuck. From the database only, so a health
//! check never waits on Proxmox. The public `/health` keeps its short answer.

use crate::db::entity::{job, worker_lease};
use crate::model::JobState;
use crate::{Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Serialize;

/// A queued job that no runner took for this long is stuck (the workers are gone or full).
pub const QUEUED_TOO_LONG_SECS: i64 = 600;

#[derive(Debug, Serialize, PartialEq)]
pub struct Report {
    /// `ok`, or `degraded` when a cluster's sync is late or failing, or a job is stuck.
    pub status: &'static str,
    pub database: &'static str,
    pub clusters: Vec<ClusterHealth>,
    pub jobs: JobsHealth,
    /// Leases held now, by name: who works on what, on which instance.
    pub workers: Vec<WorkerHealth>,
}

/// A worker at work: a lease not yet run out.
#[derive(Debug, Serialize, PartialEq)]
pub struct WorkerHealth {
    /// `sync:<cluster id>`, `policy:<cluster id>` or `job:<job id>`.
    pub lease: String,
    /// `<worker>/<host>:<pid>/…`: the instance holding it.
    pub owner: String,
    /// Seconds until the lease runs out unless renewed.
    pub secs_left: i64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ClusterHealth {
    pub name: String,
    /// When its last quick sync succeeded (Unix seconds), and how long ago.
    pub synced_at: Option<i64>,
    pub synced_secs_ago: Option<i64>,
    pub last_error: Option<String>,
    pub error_at: Option<i64>,
    /// Synced within three quick-sync periods, and no error since.
    pub ok: bool,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct JobsHealth {
    pub queued: u64,
    pub running: u64,
    /// Running with a lease that ran out (its runner died and nobody took it over), or
    /// queued for more than [`QUEUED_TOO_LONG_SECS`].
    pub stuck: u64,
}

/// The report; `quick_secs` is the sync setting (how fresh "synced" must be).
pub async fn report(services: &Services, quick_secs: u64) -> Result<Report> {
    let now = services.clock.now();
    let late = 3 * quick_secs.max(1) as i64;
    let clusters: Vec<ClusterHealth> = crate::clusters::list(services)
        .await?
        .into_iter()
        .filter(|c| c.enabled)
        .map(|c| {
            let s = c.sync;
            let failing = match (s.error_at, s.quick_at) {
                (Some(e), Some(q)) => e >= q,
                (Some(_), None) => true,
                _ => false,
            };
            let fresh = s.quick_at.is_some_and(|t| now - t <= late);
            ClusterHealth {
                name: c.name,
                synced_at: s.quick_at,
                synced_secs_ago: s.quick_at.map(|t| now - t),
                last_error: s.last_error,
                error_at: s.error_at,
                ok: fresh && !failing,
            }
        })
        .collect();
    let count = |state: JobState| {
        job::Entity::find()
            .filter(job::Column::State.eq(state))
            .count(&services.db)
    };
    let stuck = job::Entity::find()
        .filter(job::Column::State.eq(JobState::Running))
        .filter(job::Column::LeaseUntil.lt(now))
        .count(&services.db)
        .await?
        + job::Entity::find()
            .filter(job::Column::State.eq(JobState::Queued))
            .filter(job::Column::CreatedAt.lt(now - QUEUED_TOO_LONG_SECS))
            .count(&services.db)
            .await?;
    let jobs = JobsHealth {
        queued: count(JobState::Queued).await?,
        running: count(JobState::Running).await?,
        stuck,
    };
    let ok = clusters.iter().all(|c| c.ok) && jobs.stuck == 0;
    Ok(Report {
        status: if ok { "ok" } else { "degraded" },
        database: "ok",
        clusters,
        jobs,
        workers: workers(services, now).await?,
    })
}

/// The worker leases and job leases that have not run out.
async fn workers(services: &Services, now: i64) -> Result<Vec<WorkerHealth>> {
    let mut workers: Vec<WorkerHealth> = worker_lease::Entity::find()
        .filter(worker_lease::Column::Until.gt(now))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|l| WorkerHealth {
            lease: l.name,
            owner: l.owner,
            secs_left: l.until - now,
        })
        .collect();
    let running = job::Entity::find()
        .filter(job::Column::State.eq(JobState::Running))
        .filter(job::Column::LeaseUntil.gt(now))
        .all(&services.db)
        .await?;
    workers.extend(running.into_iter().filter_map(|j| {
        Some(WorkerHealth {
            lease: format!("job:{}", j.id),
            owner: j.lease_owner?,
            secs_left: j.lease_until? - now,
        })
    }));
    workers.sort_by(|a, b| a.lease.cmp(&b.lease));
    Ok(workers)
}
