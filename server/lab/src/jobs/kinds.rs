//! The registry: one module per job kind, each with a `run` that does the kind's work
//! through a [`JobRun`]. Kinds use the shared steps (`super::steps`) and never each other.

mod delete;
mod deploy;
pub mod power;
mod publish;
mod remove;
mod reset;
mod respec;
mod snapshot;

use super::error::JobError;
use super::run::{JobRun, Outcome};
use crate::db::entity::class;
use crate::model::{JobKind, JobState};
use sea_orm::EntityTrait;

/// Runs the job's kind to its end (or to the point where it must stop).
pub async fn run(run: &JobRun) -> Result<Outcome, JobError> {
    let Some(class) = class::Entity::find_by_id(run.job.class_id)
        .one(&run.services.db)
        .await?
    else {
        return Ok(Outcome::Done); // deleted meanwhile: nothing left to do
    };
    // Cancelled before it began: only a deploy has rows to mark (it does so itself).
    if run.job.state == JobState::Cancelling && run.job.kind != JobKind::Deploy {
        return Ok(Outcome::Cancelled);
    }
    match run.job.kind {
        JobKind::Deploy => deploy::run(run, class).await,
        JobKind::Reset => reset::run(run, class).await,
        JobKind::Publish => publish::run(run, class).await,
        JobKind::Delete => delete::run(run, class).await,
        JobKind::Remove => remove::run(run, class).await,
        JobKind::Respec => respec::run(run, class).await,
        JobKind::Power => power::run(run, class).await,
        JobKind::Snapshot => snapshot::run(run, class).await,
    }
}
