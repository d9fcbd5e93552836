//! Asking for work: queueing a job (in the caller's transaction, with the intent rows it
//! acts on), refusing a change while the class is busy, and cancelling.

use crate::clock::now;
use crate::db::entity::job;
use crate::model::{JobKind, JobState, PowerOrder, SnapshotOrder};
use crate::{Error, Result, Services};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// Queues a job; wake the workers (`services.jobs.wake()`) after the transaction commits.
pub async fn queue(
    db: &impl ConnectionTrait,
    class_id: i32,
    kind: JobKind,
    vmid: Option<i32>,
    requested_by: Option<i32>,
) -> Result<job::Model> {
    insert(db, class_id, kind, vmid, requested_by, None).await
}

/// Queues a policy's `power` job with its order.
pub async fn queue_power(
    db: &impl ConnectionTrait,
    class_id: i32,
    order: &PowerOrder,
) -> Result<job::Model> {
    let detail = serde_json::to_string(order).map_err(|e| Error::Internal(e.to_string()))?;
    insert(db, class_id, JobKind::Power, None, None, Some(detail)).await
}

/// Queues a `snapshot` job on one VM with its order.
pub async fn queue_snapshot(
    db: &impl ConnectionTrait,
    class_id: i32,
    vmid: i32,
    requested_by: i32,
    order: &SnapshotOrder,
) -> Result<job::Model> {
    let detail = serde_json::to_string(order).map_err(|e| Error::Internal(e.to_string()))?;
    insert(
        db,
        class_id,
        JobKind::Snapshot,
        Some(vmid),
        Some(requested_by),
        Some(detail),
    )
    .await
}

async fn insert(
    db: &impl ConnectionTrait,
    class_id: i32,
    kind: JobKind,
    vmid: Option<i32>,
    requested_by: Option<i32>,
    detail: Option<String>,
) -> Result<job::Model> {
    Ok(job::ActiveModel {
        class_id: Set(class_id),
        kind: Set(kind),
        vmid: Set(vmid),
        state: Set(JobState::Queued),
        priority: Set(kind.priority()),
        requested_by: Set(requested_by),
        fence: Set(0),
        attempts: Set(0),
        commands: Set(0),
        created_at: Set(now()),
        detail: Set(detail),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Refuses a change while another job of the class is unfinished.
pub async fn ensure_idle(services: &Services, class_id: i32) -> Result<()> {
    let busy = job::Entity::find()
        .filter(job::Column::ClassId.eq(class_id))
        .filter(job::Column::State.is_in(JobState::ACTIVE))
        .one(&services.db)
        .await?
        .is_some();
    if busy {
        return Err(Error::Conflict(
            "The class is busy with another change; try again when it is done.".into(),
        ));
    }
    Ok(())
}

/// Asks a class's unfinished jobs (of `kinds`, or all) to stop: they become `cancelling`,
/// and a worker ends each at its next checkpoint (a deploy marks the VMs it did not begin
/// as cancelled; a queued job of another kind ends without doing anything). Returns how many
/// were asked.
pub async fn cancel_class_jobs(
    db: &impl ConnectionTrait,
    class_id: i32,
    kinds: Option<&[JobKind]>,
) -> Result<u64> {
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(JobState::Cancelling))
        .filter(job::Column::ClassId.eq(class_id))
        .filter(job::Column::State.is_in([JobState::Queued, JobState::Running]));
    if let Some(kinds) = kinds {
        update = update.filter(job::Column::Kind.is_in(kinds.iter().copied()));
    }
    Ok(update.exec(db).await?.rows_affected)
}
