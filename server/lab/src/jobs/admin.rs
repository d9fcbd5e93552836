//! The admin's view of the engine: list jobs (filtered), one job, cancel. Read from the
//! database only; admins only (checked here too, not just by the page).

use crate::db::entity::{class, class_vm, job, user};
use crate::model::{JobFilter, JobKind, JobState, JobView, Role};
use crate::{Error, Result, Services};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;

/// Rows a page shows at most (newest first).
pub const PAGE: u64 = 200;

/// Who asks: an admin through the portal, or the operator on the portal's host (the
/// `proxlab jobs` command, which has the database and settings anyway).
#[derive(Clone, Copy)]
pub enum Caller<'a> {
    Person(&'a user::Model),
    Operator,
}

fn require_admin(caller: Caller<'_>) -> Result<()> {
    match caller {
        Caller::Operator => Ok(()),
        Caller::Person(u) if u.role == Role::Admin.as_str() && !u.disabled => Ok(()),
        Caller::Person(_) => Err(Error::Forbidden),
    }
}

pub async fn list(
    services: &Services,
    actor: Caller<'_>,
    filter: JobFilter,
) -> Result<Vec<JobView>> {
    require_admin(actor)?;
    let mut query = job::Entity::find()
        .order_by_desc(job::Column::Id)
        .limit(PAGE);
    query = match filter {
        JobFilter::Active => query.filter(job::Column::State.is_in(JobState::ACTIVE)),
        JobFilter::Failed => query.filter(job::Column::State.eq(JobState::Failed)),
        JobFilter::All => query,
    };
    let jobs = query.all(&services.db).await?;
    views(services, jobs).await
}

pub async fn show(services: &Services, actor: Caller<'_>, id: i32) -> Result<JobView> {
    require_admin(actor)?;
    let job = job::Entity::find_by_id(id)
        .one(&services.db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Job {id}")))?;
    Ok(views(services, vec![job]).await?.remove(0))
}

/// Cancels a queued job of any kind, or a running deploy (`JobKind::cancellable`).
pub async fn cancel(services: &Services, actor: Caller<'_>, id: i32) -> Result<()> {
    require_admin(actor)?;
    let job = job::Entity::find_by_id(id)
        .one(&services.db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Job {id}")))?;
    if !job.kind.cancellable(job.state) {
        return Err(Error::Conflict(format!(
            "Job {id} is {} and cannot be cancelled now.",
            job.state.label().to_lowercase()
        )));
    }
    let asked = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(JobState::Cancelling))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::State.eq(job.state))
        .exec(&services.db)
        .await?
        .rows_affected;
    if asked == 0 {
        return Err(Error::Conflict(format!(
            "Job {id} changed meanwhile; look again."
        )));
    }
    services.jobs.wake();
    Ok(())
}

async fn views(services: &Services, jobs: Vec<job::Model>) -> Result<Vec<JobView>> {
    let class_ids: Vec<i32> = jobs.iter().map(|j| j.class_id).collect();
    let user_ids: Vec<i32> = jobs.iter().filter_map(|j| j.requested_by).collect();
    let classes: HashMap<i32, String> = class::Entity::find()
        .filter(class::Column::Id.is_in(class_ids.clone()))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let users: HashMap<i32, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let mut vms: HashMap<i32, (u32, u32)> = HashMap::new();
    for row in class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.is_in(class_ids))
        .all(&services.db)
        .await?
    {
        let e = vms.entry(row.class_id).or_default();
        e.1 += 1;
        if row.step.is_final() {
            e.0 += 1;
        }
    }
    Ok(jobs
        .into_iter()
        .map(|j| {
            let (vms_done, vms_total) = match j.kind {
                JobKind::Deploy | JobKind::Publish => {
                    vms.get(&j.class_id).copied().unwrap_or_default()
                }
                _ => (0, 0),
            };
            JobView {
                id: j.id,
                kind: j.kind,
                state: j.state,
                class_id: j.class_id,
                class_name: classes.get(&j.class_id).cloned(),
                vmid: j.vmid,
                vms_done,
                vms_total,
                attempts: j.attempts,
                lease_owner: j.lease_owner,
                lease_until: j.lease_until,
                requested_by: j.requested_by.and_then(|id| users.get(&id).cloned()),
                created_at: j.created_at,
                started_at: j.started_at,
                finished_at: j.finished_at,
                error: j.error,
                commands: j.commands,
            }
        })
        .collect())
}
