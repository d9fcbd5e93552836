//! Leases: how a runner takes a job, proves it still holds it, and lets it go.
//!
//! A claim is one conditional UPDATE that sets the owner, the lease's end and bumps `fence`;
//! only one runner (of any portal instance) can win it. Every later write of that runner is
//! fenced: it names the job, the owner *and* the fence in its WHERE clause, inside the same
//! transaction as the write it guards. A runner that stalled past its lease and was replaced
//! finds zero rows there and stops ([`JobError::LeaseLost`]) before changing anything.
//!
//! Node commands cannot be fenced by the node, so a runner renews the lease (fenced) right
//! before each one, or knows it renewed it less than a tenth of a lease ago
//! (`JobRun::renew`): a takeover before the command needs a stall longer than most of a
//! lease at that exact spot.

use super::error::JobError;
use crate::clock::now;
use crate::db::entity::job;
use crate::model::JobState;
use crate::{Result, Services};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::sync::LazyLock;

/// A claim that makes a job give up instead of being resumed again (a job that crashes its
/// runner every time would otherwise be retried forever).
pub const MAX_CLAIMS: i32 = 10;

/// The runner's hold on one job.
#[derive(Clone, Debug)]
pub struct Lease {
    pub job_id: i32,
    pub owner: String,
    pub fence: i64,
    pub secs: i64,
}

/// Jobs of one class run in the order they were asked for: none may start while an older
/// one of its class is unfinished. Raw SQL (sea-query has no correlated `NOT EXISTS` on the
/// same table under an alias); the state words come from `JobState::ACTIVE`, built once.
static NO_OLDER_UNFINISHED: LazyLock<String> = LazyLock::new(|| {
    let words = JobState::ACTIVE
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "NOT EXISTS (SELECT 1 FROM jobs AS earlier WHERE earlier.class_id = jobs.class_id \
         AND earlier.id < jobs.id AND earlier.state IN ({words}))"
    )
});

fn claimable(at: i64) -> Condition {
    Condition::all()
        .add(job::Column::State.is_in(JobState::ACTIVE))
        .add(
            Condition::any()
                .add(job::Column::LeaseUntil.is_null())
                .add(job::Column::LeaseUntil.lte(at)),
        )
        .add(Expr::cust(NO_OLDER_UNFINISHED.as_str()))
}

/// Takes the most urgent claimable job (highest priority, then oldest).
pub async fn claim(services: &Services, owner: &str, lease_secs: i64) -> Result<Option<Lease>> {
    loop {
        let at = now();
        let Some(candidate) = job::Entity::find()
            .filter(claimable(at))
            .order_by_desc(job::Column::Priority)
            .order_by_asc(job::Column::Id)
            .one(&services.db)
            .await?
        else {
            return Ok(None);
        };
        let state = match candidate.state {
            JobState::Queued => JobState::Running,
            other => other,
        };
        let taken = job::Entity::update_many()
            .col_expr(job::Column::LeaseOwner, Expr::value(owner))
            .col_expr(job::Column::LeaseUntil, Expr::value(at + lease_secs))
            .col_expr(job::Column::Fence, Expr::col(job::Column::Fence).add(1))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).add(1),
            )
            .col_expr(job::Column::State, Expr::value(state))
            .col_expr(
                job::Column::StartedAt,
                Expr::value(candidate.started_at.unwrap_or(at)),
            )
            .filter(job::Column::Id.eq(candidate.id))
            .filter(job::Column::Fence.eq(candidate.fence))
            .filter(claimable(at))
            .exec(&services.db)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(Some(Lease {
                job_id: candidate.id,
                owner: owner.to_owned(),
                fence: candidate.fence + 1,
                secs: lease_secs,
            }));
        }
        tracing::debug!(job = candidate.id, "claim lost; looking again");
    }
}

impl Lease {
    fn fenced(&self) -> Condition {
        Condition::all()
            .add(job::Column::Id.eq(self.job_id))
            .add(job::Column::LeaseOwner.eq(self.owner.as_str()))
            .add(job::Column::Fence.eq(self.fence))
    }

    /// Extends the lease if this runner still holds it, and returns the job as it is now
    /// (a cancel request shows in its state). Run it inside the transaction of a write to
    /// fence that write.
    pub async fn renew(&self, db: &impl ConnectionTrait) -> Result<job::Model, JobError> {
        let rows = job::Entity::update_many()
            .col_expr(job::Column::LeaseUntil, Expr::value(now() + self.secs))
            .filter(self.fenced())
            .exec_with_returning(db)
            .await?;
        rows.into_iter().next().ok_or(JobError::LeaseLost)
    }

    /// Records how the job ended and lets it go.
    pub async fn finish(
        &self,
        db: &impl ConnectionTrait,
        state: JobState,
        error: Option<String>,
    ) -> Result<(), JobError> {
        let done = job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(state))
            .col_expr(job::Column::Error, Expr::value(error))
            .col_expr(job::Column::FinishedAt, Expr::value(now()))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(job::Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .filter(self.fenced())
            .exec(db)
            .await?;
        if done.rows_affected == 1 {
            Ok(())
        } else {
            Err(JobError::LeaseLost)
        }
    }

    /// Hands the unfinished job back (shutdown): another runner may take it at once.
    pub async fn release(&self, db: &impl ConnectionTrait) -> Result<(), JobError> {
        job::Entity::update_many()
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(job::Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .filter(self.fenced())
            .exec(db)
            .await?;
        Ok(())
    }
}
