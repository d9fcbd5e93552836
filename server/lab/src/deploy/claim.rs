//! Claiming jobs with a lease, renewing it while the job runs, and recording how it ended.

use super::{DeploySettings, Outcome};
use crate::clock::now;
use crate::db::entity::job;
use crate::{Result, Services};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use std::time::Duration;

fn claimable(at: i64) -> Condition {
    Condition::all()
        .add(job::Column::State.is_in(["queued", "running", "cancelling"]))
        .add(
            Condition::any()
                .add(job::Column::LeaseUntil.is_null())
                .add(job::Column::LeaseUntil.lte(at)),
        )
}

/// Takes the oldest claimable job: one conditional UPDATE, so two runners (two portal
/// instances) never run the same job.
async fn claim(
    services: &Services,
    settings: &DeploySettings,
    owner: &str,
) -> Result<Option<job::Model>> {
    loop {
        let at = now();
        let Some(candidate) = job::Entity::find()
            .filter(claimable(at))
            .order_by_asc(job::Column::Id)
            .one(&services.db)
            .await?
        else {
            return Ok(None);
        };
        let state = if candidate.state == "queued" {
            "running"
        } else {
            candidate.state.as_str()
        };
        let taken = job::Entity::update_many()
            .col_expr(job::Column::LeaseOwner, Expr::value(owner))
            .col_expr(
                job::Column::LeaseUntil,
                Expr::value(at + settings.lease_secs),
            )
            .col_expr(job::Column::State, Expr::value(state))
            .filter(job::Column::Id.eq(candidate.id))
            .filter(claimable(at))
            .exec(&services.db)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(job::Entity::find_by_id(candidate.id)
                .one(&services.db)
                .await?);
        }
    }
}

pub(super) async fn run_available(
    services: &Services,
    settings: &DeploySettings,
    owner: &str,
) -> Result<usize> {
    let mut ran = 0;
    while let Some(job) = claim(services, settings, owner).await? {
        ran += 1;
        // Aborted on drop too: a runner whose future is dropped mid-job must stop renewing.
        let _heartbeat = AbortOnDrop(renew_lease(
            services.clone(),
            job.id,
            owner.to_owned(),
            settings.lease_secs,
        ));
        let outcome = super::create::run_job(services, settings, &job).await;
        finish(services, &job, outcome).await?;
    }
    Ok(ran)
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Extends the lease every third of its length while the job runs.
fn renew_lease(
    services: Services,
    id: i32,
    owner: String,
    lease_secs: i64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = Duration::from_secs((lease_secs / 3).max(1) as u64);
        loop {
            tokio::time::sleep(period).await;
            let _ = job::Entity::update_many()
                .col_expr(job::Column::LeaseUntil, Expr::value(now() + lease_secs))
                .filter(job::Column::Id.eq(id))
                .filter(job::Column::LeaseOwner.eq(owner.as_str()))
                .exec(&services.db)
                .await;
        }
    })
}

async fn finish(services: &Services, job: &job::Model, outcome: Result<Outcome>) -> Result<()> {
    let (state, error) = match outcome {
        Ok(Outcome::Done) => ("done", None),
        Ok(Outcome::Cancelled) => ("cancelled", None),
        Err(e) => {
            tracing::warn!(job = job.id, kind = %job.kind, error = %e, "job failed");
            ("failed", Some(e.to_string()))
        }
    };
    job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(state))
        .col_expr(job::Column::Error, Expr::value(error))
        .col_expr(job::Column::FinishedAt, Expr::value(now()))
        .col_expr(job::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .filter(job::Column::Id.eq(job.id))
        .exec(&services.db)
        .await?;
    services.sync.wake();
    Ok(())
}

/// The job was asked to stop (the teacher cancelled, or the class is being deleted).
pub(super) async fn cancelled(services: &Services, job_id: i32) -> Result<bool> {
    Ok(job::Entity::find_by_id(job_id)
        .one(&services.db)
        .await?
        .is_none_or(|j| j.state == "cancelling"))
}
