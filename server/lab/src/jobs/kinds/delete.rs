//! Deleting a class: student VMs, then the teacher's, then the class base (the others sit on
//! it) are destroyed through the API; leftovers of VMs that never came to exist are removed
//! over the shell; then the export (or, for a clone class, its Proxmox pool); the rows go
//! last, in one transaction.

use crate::db::entity::{
    assignment, class, class_owner, class_schedule, class_vm, job, policy_log, usage_interval,
    usage_total, vm_policy,
};
use crate::inventory;
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::context::Ctx;
use crate::jobs::steps::destroy::destroy_vm;
use crate::jobs::steps::disks::source_config;
use crate::model::class_pool;
use crate::model::{JobKind, VmRole};
use crate::node::{NodeOps, Script};
use crate::revocation::Revoked;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

fn order(role: VmRole) -> u8 {
    match role {
        VmRole::Student => 0,
        VmRole::Teacher => 1,
        VmRole::Base => 2,
    }
}

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let services = &run.services;
    let ctx = Ctx::open(services, class).await?;
    let mut rows = ctx.rows(services).await?;
    rows.sort_by_key(|r| (order(r.role), r.vmid));
    run.guard("read source", None).await?;
    // A cloned VM has no files of ours outside Proxmox's own volumes.
    let source = if ctx.class.method.is_clone() {
        None
    } else {
        source_config(&ctx).await.ok()
    };
    for row in &rows {
        destroy_vm(run, &ctx, row, source.as_ref()).await?;
    }
    if ctx.class.method.is_clone() {
        run.guard("remove pool", None).await?;
        ctx.client
            .remove_pool(&class_pool(ctx.class.vmid_base))
            .await?;
    } else {
        let dir = ctx
            .paths
            .export_dir(&ctx.class.storage, ctx.class.vmid_base as u32)?;
        run.guard("remove export", None).await?;
        ctx.run_script(&NodeOps::remove_dir(Script::new(), &dir)?)
            .await?;
    }

    let txn = run.begin("class deleted", None).await?;
    assignment::Entity::delete_many()
        .filter(assignment::Column::ClusterId.eq(ctx.class.cluster_id))
        .filter(assignment::Column::Vmid.between(ctx.class.vmid_base, ctx.class.vmid_base + 99))
        .exec(&txn)
        .await?;
    class_vm::Entity::delete_many()
        .filter(class_vm::Column::ClassId.eq(ctx.class.id))
        .exec(&txn)
        .await?;
    // The class's other jobs go with it; this one stays as the record of the deletion.
    job::Entity::delete_many()
        .filter(job::Column::ClassId.eq(ctx.class.id))
        .filter(job::Column::Kind.ne(JobKind::Delete))
        .exec(&txn)
        .await?;
    class_owner::Entity::delete_many()
        .filter(class_owner::Column::ClassId.eq(ctx.class.id))
        .exec(&txn)
        .await?;
    // Its policy state, schedules, usage and log go too (the log of a class nobody can
    // open any more helps nobody; the delete job stays as the record).
    class_schedule::Entity::delete_many()
        .filter(class_schedule::Column::ClassId.eq(ctx.class.id))
        .exec(&txn)
        .await?;
    vm_policy::Entity::delete_many()
        .filter(vm_policy::Column::ClassId.eq(ctx.class.id))
        .exec(&txn)
        .await?;
    crate::waitlist::forget_class(&txn, ctx.class.id).await?;
    usage_interval::Entity::delete_many()
        .filter(usage_interval::Column::ClassId.eq(ctx.class.id))
        .exec(&txn)
        .await?;
    usage_total::Entity::delete_many()
        .filter(usage_total::Column::ClassId.eq(ctx.class.id))
        .exec(&txn)
        .await?;
    policy_log::Entity::delete_many()
        .filter(policy_log::Column::ClassId.eq(ctx.class.id))
        .exec(&txn)
        .await?;
    class::Entity::delete_by_id(ctx.class.id).exec(&txn).await?;
    inventory::bump_all(&txn).await?;
    txn.commit().await?;
    // Its teachers lose every VM of the block, its students theirs.
    for row in &rows {
        services.revocations.publish(Revoked::Vm {
            cluster_id: row.cluster_id,
            vmid: row.vmid,
        });
    }
    Ok(Outcome::Done)
}
