//! Remove: one student VM of a class destroyed, then its row and assignments (the roster
//! shrinks by one).

use crate::db::entity::{assignment, class, class_vm, vm_policy};
use crate::inventory;
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::context::Ctx;
use crate::jobs::steps::destroy::destroy_vm;
use crate::jobs::steps::disks::source_config;
use crate::revocation::Revoked;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let vmid = run.job_vmid()?;
    let services = &run.services;
    let ctx = Ctx::open(services, class).await?;
    let rows = ctx.rows(services).await?;
    let Some(row) = rows.iter().find(|r| r.vmid == vmid) else {
        return Ok(Outcome::Done);
    };
    run.guard("read source", Some(vmid)).await?;
    // A cloned VM has no files of ours outside Proxmox's own volumes.
    let source = if ctx.class.method.is_clone() {
        None
    } else {
        source_config(&ctx).await.ok()
    };
    destroy_vm(run, &ctx, row, source.as_ref()).await?;
    let txn = run.begin("vm removed", Some(vmid)).await?;
    let users: Vec<String> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(row.cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| inventory::user_key(a.user_id))
        .collect();
    assignment::Entity::delete_many()
        .filter(assignment::Column::ClusterId.eq(row.cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .exec(&txn)
        .await?;
    class_vm::Entity::delete_by_id(row.id).exec(&txn).await?;
    // Its policy state goes with it (a VMID used again later starts with none); its usage
    // runs stay in the student's log, and the next tick closes an open one.
    vm_policy::Entity::delete_many()
        .filter(vm_policy::Column::ClusterId.eq(row.cluster_id))
        .filter(vm_policy::Column::Vmid.eq(vmid))
        .exec(&txn)
        .await?;
    class::Entity::update_many()
        .col_expr(
            class::Column::Students,
            sea_orm::sea_query::Expr::col(class::Column::Students).sub(1),
        )
        .filter(class::Column::Id.eq(ctx.class.id))
        .exec(&txn)
        .await?;
    inventory::bump(&txn, users.into_iter().chain(["all".to_owned()])).await?;
    txn.commit().await?;
    services.revocations.publish(Revoked::Vm {
        cluster_id: row.cluster_id,
        vmid,
    });
    Ok(Outcome::Done)
}
