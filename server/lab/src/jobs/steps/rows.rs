//! Writes to a class's rows. Each takes the fenced transaction of the write it is part of
//! ([`JobRun::begin`](crate::jobs::run::JobRun::begin)), and checks that the row it meant to
//! change was there.

use crate::clock::now;
use crate::db::entity::{class, class_vm, vm};
use crate::jobs::error::JobError;
use crate::jobs::run::JobRun;
use crate::model::{BASE_OFFSET, VmRole, VmStep};
use crate::{Error, Services};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// What else changes with a step.
#[derive(Default)]
pub struct StepChange {
    pub error: Option<String>,
    /// The VM's volids (`slot=volid,…`), written with `ready` in the same UPDATE.
    pub disks: Option<String>,
    pub attempts: Option<i32>,
}

pub async fn set_step(
    db: &impl ConnectionTrait,
    row_id: i32,
    step: VmStep,
    change: StepChange,
) -> Result<(), JobError> {
    let at = now();
    let mut update = class_vm::Entity::update_many()
        .col_expr(class_vm::Column::Step, Expr::value(step))
        .col_expr(class_vm::Column::Error, Expr::value(change.error))
        .col_expr(class_vm::Column::UpdatedAt, Expr::value(at));
    match step {
        VmStep::Creating => {
            update = update.col_expr(class_vm::Column::StartedAt, Expr::value(at));
        }
        VmStep::Ready | VmStep::Failed => {
            update = update.col_expr(class_vm::Column::FinishedAt, Expr::value(at));
        }
        _ => {}
    }
    if let Some(disks) = change.disks {
        update = update.col_expr(class_vm::Column::Disks, Expr::value(disks));
    }
    if let Some(attempts) = change.attempts {
        update = update.col_expr(class_vm::Column::Attempts, Expr::value(attempts));
    }
    let done = update
        .filter(class_vm::Column::Id.eq(row_id))
        .exec(db)
        .await?;
    if done.rows_affected != 1 {
        return Err(JobError::Permanent(Error::NotFound(format!(
            "the class VM row {row_id}"
        ))));
    }
    Ok(())
}

/// Sets the class's state, unless it is being deleted (the delete job owns it then).
pub async fn mark_class(
    db: &impl ConnectionTrait,
    class_id: i32,
    state: &str,
) -> Result<(), JobError> {
    class::Entity::update_many()
        .col_expr(class::Column::State, Expr::value(state))
        .filter(class::Column::Id.eq(class_id))
        .filter(class::Column::State.ne("deleting"))
        .exec(db)
        .await?;
    Ok(())
}

/// The row as it is now.
pub async fn reload(
    services: &Services,
    row: &class_vm::Model,
) -> Result<Option<class_vm::Model>, JobError> {
    Ok(class_vm::Entity::find_by_id(row.id)
        .one(&services.db)
        .await?)
}

/// Where the VM is now (it may have been migrated since it was made).
pub async fn current_node(services: &Services, row: &class_vm::Model) -> Result<String, JobError> {
    Ok(vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(row.cluster_id))
        .filter(vm::Column::Vmid.eq(row.vmid))
        .one(&services.db)
        .await?
        .map_or_else(|| row.node.clone(), |v| v.node))
}

/// Whether `row` is a copy of the class base on another node (a class on node-local storage
/// spread over nodes): a `Base` row at any offset but the base's own.
pub fn is_base_copy(class: &class::Model, row: &class_vm::Model) -> bool {
    row.role == VmRole::Base && row.vmid != class.vmid_base + BASE_OFFSET
}

/// Base row `b` as it is now, if it is ready (students are made from it).
pub async fn ready_base(run: &JobRun, b: &class_vm::Model) -> Result<class_vm::Model, JobError> {
    match reload(&run.services, b).await? {
        Some(b) if b.step == VmStep::Ready => Ok(b),
        _ => Err(JobError::Permanent(Error::Invalid(format!(
            "The class base {} could not be made; see the VM's error.",
            b.name
        )))),
    }
}

/// The class base and its copies as they are now, if every one is ready.
pub async fn ready_bases(
    run: &JobRun,
    rows: &[class_vm::Model],
) -> Result<Vec<class_vm::Model>, JobError> {
    let mut bases = Vec::new();
    for b in rows.iter().filter(|r| r.role == VmRole::Base) {
        bases.push(ready_base(run, b).await?);
    }
    if bases.is_empty() {
        return Err(JobError::Permanent(Error::Invalid(
            "The class has no base.".into(),
        )));
    }
    Ok(bases)
}

/// The base a VM on `node` is cloned from: the copy on its node, else the base proper (the
/// block's highest VMID; shared storage: a clone may go to any node). `bases` is not empty.
pub fn base_for<'a>(bases: &'a [class_vm::Model], node: &str) -> &'a class_vm::Model {
    bases
        .iter()
        .find(|b| b.node == node)
        .or_else(|| bases.iter().max_by_key(|b| b.vmid))
        .expect("a class has a base")
}
