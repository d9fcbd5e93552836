//! Deploy, two ways (`DeployMethod`):
//! - overlays: export the template's disks once, make the class base and the teacher's VM as
//!   overlays of the export, then the students as overlays of the class base (a 3-level
//!   backing chain);
//! - Proxmox clones: the class base and the teacher's VM are full copies of the template
//!   (in parallel; the base then becomes a template), the students linked (or, on plain
//!   LVM, full) clones of the class base. A class on node-local storage spread over nodes
//!   has a copy of the base on each other node (a full copy migrated there), and each
//!   student is cloned from the base on its own node. Every VM joins the class's Proxmox
//!   pool.
//!
//! Students are made in parallel, bounded per node (`NodeSlots`), each VM in one idempotent
//! step; the class is `ready` with the teacher's VM given to its owner in one transaction.

use crate::clock::now;
use crate::db::entity::{assignment, class, class_vm};
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::by_base::{bases_then_students, first_stop};
use crate::jobs::steps::clone_vm::{CloneSource, clone_vm, ensure_pool};
use crate::jobs::steps::context::Ctx;
use crate::jobs::steps::disks::{Source, data_disk_paths, source_config};
use crate::jobs::steps::export::export_disks;
use crate::jobs::steps::fan_out::fan_out;
use crate::jobs::steps::make_vm::make_vm;
use crate::jobs::steps::rows::{StepChange, mark_class, ready_bases, set_step};
use crate::model::{VmRole, VmStep};
use crate::node::guest_config::DiskKind;
use crate::{Error, inventory};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use std::collections::BTreeMap;

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let class_id = class.id;
    let result = deploy(run, class).await;
    let result = match result {
        Err(JobError::LeaseLost | JobError::Stopping) => return result,
        Err(JobError::Cancelled) => cancel_rest(run, class_id).await,
        Err(e) => {
            fail_unfinished(run, class_id, &e).await?;
            Err(e)
        }
        ok => ok,
    };
    // The VMs made are ready: students on the waiting list get them first. (Idempotent and
    // race-safe, so a resumed job may do it again.)
    crate::waitlist::fill(&run.services, class_id).await?;
    result
}

async fn deploy(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let services = &run.services;
    let ctx = Ctx::open(services, class).await?;
    let rows = ctx.rows(services).await?;
    // Cancelled before it began (a queued deploy): nothing is made, not even the export.
    run.checkpoint("read source", None).await?;
    if ctx.class.method.is_clone() {
        deploy_clones(run, &ctx, &rows).await?;
    } else {
        deploy_overlays(run, &ctx, &rows).await?;
    }
    let txn = run.begin("class ready", None).await?;
    assign_teacher(&txn, &ctx).await?;
    mark_class(&txn, ctx.class.id, "ready").await?;
    crate::db::entity::job::Entity::update_many()
        .col_expr(
            crate::db::entity::job::Column::Commands,
            Expr::value(ctx.commands()),
        )
        .filter(crate::db::entity::job::Column::Id.eq(run.job.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Outcome::Done)
}

async fn deploy_overlays(
    run: &JobRun,
    ctx: &Ctx,
    rows: &[class_vm::Model],
) -> Result<(), JobError> {
    let source = source_config(ctx).await?;
    let exports = match ctx.class.template_vmid {
        Some(_) => Source::Overlay(export_template(run, ctx, rows, &source).await?),
        None => Source::Blank(ctx.class.disk_gb.unwrap_or(8) as u32),
    };
    // The class base and the teacher's VM both sit on the export.
    let first: Vec<&class_vm::Model> = rows.iter().filter(|r| r.role != VmRole::Student).collect();
    for r in futures_util::future::join_all(
        first
            .iter()
            .map(|r| make_vm(run, ctx, r, &source, &exports)),
    )
    .await
    {
        r?;
    }
    // An overlay class has one base.
    let base = ready_bases(run, rows).await?.swap_remove(0);
    // Students sit on the class base.
    let student_source = match &exports {
        Source::Overlay(_) => Source::Overlay(data_disk_paths(ctx, &base)?),
        blank => blank.clone(),
    };
    let students: Vec<&class_vm::Model> =
        rows.iter().filter(|r| r.role == VmRole::Student).collect();
    let work: Vec<_> = students
        .iter()
        .map(|r| make_vm(run, ctx, r, &source, &student_source))
        .collect();
    fan_out(run, work).await
}

async fn deploy_clones(run: &JobRun, ctx: &Ctx, rows: &[class_vm::Model]) -> Result<(), JobError> {
    let (Some(tid), Some(tnode)) = (ctx.class.template_vmid, ctx.class.template_node.clone())
    else {
        return Err(JobError::Permanent(Error::Invalid(
            "A class made by Proxmox clones needs a template.".into(),
        )));
    };
    // The base (then a template), its copies for other nodes and the teacher's VM: full
    // copies of the template, at once (a clone of a stopped template takes Proxmox's shared
    // lock); a copy then migrates to its node. Students follow their node's base.
    let template = CloneSource {
        vmid: tid as u32,
        node: tnode,
        full: true,
    };
    ensure_pool(run, ctx).await?;
    let of = |role: VmRole| -> Vec<class_vm::Model> {
        rows.iter().filter(|r| r.role == role).cloned().collect()
    };
    // The teacher's VM beside the bases, each base's students as soon as it is ready.
    let teachers = of(VmRole::Teacher);
    let teacher: Vec<_> = teachers
        .iter()
        .map(|t| clone_vm(run, ctx, t, &template))
        .collect();
    let (teacher, rest) = futures_util::future::join(
        futures_util::future::join_all(teacher),
        bases_then_students(run, ctx, &of(VmRole::Base), &of(VmRole::Student), &template),
    )
    .await;
    let mut results = teacher;
    results.push(rest);
    first_stop(results)
}

/// Exports the template's data disks (once; a file that exists is done) and records the
/// export on the class. Returns slot → export path.
async fn export_template(
    run: &JobRun,
    ctx: &Ctx,
    rows: &[class_vm::Model],
    source: &crate::node::guest_config::GuestConfig,
) -> Result<BTreeMap<String, String>, JobError> {
    // The page shows the export on the two VMs that wait for it.
    let waiting: Vec<_> = rows
        .iter()
        .filter(|r| r.role != VmRole::Student && r.step == VmStep::Queued)
        .collect();
    if !waiting.is_empty() {
        let txn = run.begin("exporting", None).await?;
        for r in waiting {
            set_step(&txn, r.id, VmStep::Exporting, StepChange::default()).await?;
        }
        txn.commit().await?;
    }
    let mut disks = BTreeMap::new();
    for d in source
        .disks()
        .into_iter()
        .filter(|d| d.kind == DiskKind::Data)
    {
        let volid = d.volid.as_deref().ok_or_else(|| {
            JobError::Permanent(Error::Invalid(format!(
                "The template's disk {} has no volume.",
                d.slot
            )))
        })?;
        disks.insert(d.slot.clone(), ctx.paths.volume(volid)?);
    }
    let exports = export_disks(run, ctx, &disks, "", true).await?;
    let txn = run.begin("export recorded", None).await?;
    let mut row: class::ActiveModel = ctx.class.clone().into();
    row.export_paths = Set(exports.values().cloned().collect::<Vec<_>>().join("\n"));
    row.update(&txn).await?;
    txn.commit().await?;
    Ok(exports)
}

/// A deployment that cannot go on (template gone, node unreachable, host key mismatch):
/// the VMs not made yet are marked failed with the reason, and so is the class.
async fn fail_unfinished(run: &JobRun, class_id: i32, e: &JobError) -> Result<(), JobError> {
    let txn = run.begin("deploy failed", None).await?;
    class_vm::Entity::update_many()
        .col_expr(class_vm::Column::Step, Expr::value(VmStep::Failed))
        .col_expr(class_vm::Column::Error, Expr::value(e.to_string()))
        .col_expr(class_vm::Column::UpdatedAt, Expr::value(now()))
        .filter(class_vm::Column::ClassId.eq(class_id))
        .filter(class_vm::Column::Step.is_in([VmStep::Queued, VmStep::Exporting]))
        .exec(&txn)
        .await?;
    mark_class(&txn, class_id, "failed").await?;
    txn.commit().await?;
    Ok(())
}

/// VMs not begun are marked cancelled; those made stay (delete the class to remove them).
async fn cancel_rest(run: &JobRun, class_id: i32) -> Result<Outcome, JobError> {
    let txn = run.begin("deploy cancelled", None).await?;
    class_vm::Entity::update_many()
        .col_expr(class_vm::Column::Step, Expr::value(VmStep::Cancelled))
        .col_expr(class_vm::Column::UpdatedAt, Expr::value(now()))
        .filter(class_vm::Column::ClassId.eq(class_id))
        .filter(class_vm::Column::Step.is_in([VmStep::Queued, VmStep::Exporting]))
        .exec(&txn)
        .await?;
    mark_class(&txn, class_id, "cancelled").await?;
    txn.commit().await?;
    Ok(Outcome::Cancelled)
}

/// The teacher's VM is theirs from the start (once it is ready).
async fn assign_teacher(txn: &sea_orm::DatabaseTransaction, ctx: &Ctx) -> Result<(), JobError> {
    let vmid = ctx.class.vmid_base;
    let exists = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(ctx.class.cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .one(txn)
        .await?
        .is_some();
    let ready = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(ctx.class.id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .filter(class_vm::Column::Step.eq(VmStep::Ready))
        .one(txn)
        .await?
        .is_some();
    if ready && !exists {
        assignment::ActiveModel {
            user_id: Set(ctx.class.owner_id),
            cluster_id: Set(ctx.class.cluster_id),
            vmid: Set(vmid),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        inventory::bump(txn, [inventory::user_key(ctx.class.owner_id)]).await?;
    }
    Ok(())
}
