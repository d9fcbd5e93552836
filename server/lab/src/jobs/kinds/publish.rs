//! Publish: the teacher's VM becomes the new class base, and every student VM is re-created
//! from it (student changes are discarded: the page says so before the teacher confirms).
//!
//! - Overlays: the teacher's disks are exported (flattened) to a new file, the class base
//!   and the teacher's VM are put on it, every student gets a fresh overlay of the base.
//!   Never `qemu-img rebase -u` onto different content.
//! - Proxmox clones: the students (linked clones of the old base) are destroyed first, then
//!   the old base; the new base is a full copy of the teacher's VM (itself a full copy, so it
//!   never depends on the base it replaces), made a template (and so are its copies for
//!   other nodes, for a class spread over node-local storage); the students are cloned from
//!   the base on their node. Proxmox refuses to remove a base with linked clones, and this order never asks it
//!   to. Each part is idempotent, so a resumed job redoes what it cannot tell was done.

use crate::Error;
use crate::db::entity::{class, class_vm};
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::by_base::bases_then_students;
use crate::jobs::steps::clone_vm::{CloneSource, ensure_pool};
use crate::jobs::steps::context::Ctx;
use crate::jobs::steps::destroy::destroy_vm;
use crate::jobs::steps::disks::data_disk_paths;
use crate::jobs::steps::export::export_disks;
use crate::jobs::steps::fan_out::fan_out;
use crate::jobs::steps::reimage::reimage;
use crate::jobs::steps::rows::{StepChange, current_node, mark_class, reload, set_step};
use crate::model::{VmRole, VmStep};
use crate::node::{NodeOps, Script};
use futures_util::StreamExt;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let services = &run.services;
    let ctx = Ctx::open(services, class).await?;
    let rows = ctx.rows(services).await?;
    if ctx.class.method.is_clone() {
        return publish_clones(run, &ctx, &rows).await;
    }
    let ready = |role: VmRole| {
        rows.iter()
            .find(|r| r.role == role && r.step == VmStep::Ready)
            .cloned()
            .ok_or_else(|| {
                JobError::Permanent(Error::Invalid(format!(
                    "The class's {role} VM is not ready."
                )))
            })
    };
    let teacher = ready(VmRole::Teacher)?;
    let base = ready(VmRole::Base)?;
    let txn = run.begin("publishing", None).await?;
    mark_class(&txn, ctx.class.id, "publishing").await?;
    set_step(&txn, teacher.id, VmStep::Creating, StepChange::default()).await?;
    txn.commit().await?;

    // 1. A new export from the teacher's (stopped) VM; named after the job, so a resumed
    //    job finds the export it already made.
    let node = current_node(services, &teacher).await?;
    ctx.ensure_stopped(run, &node, teacher.vmid as u32).await?;
    let suffix = format!("-v{}", run.job.id);
    let exports =
        export_disks(run, &ctx, &data_disk_paths(&ctx, &teacher)?, &suffix, false).await?;

    // 2. The class base and the teacher's VM on the new export.
    reimage(run, &ctx, &base, &exports).await?;
    reimage(run, &ctx, &teacher, &exports).await?;

    // 3. Every student VM afresh on the class base.
    let backing = data_disk_paths(&ctx, &base)?;
    let students: Vec<_> = rows
        .iter()
        .filter(|r| r.role == VmRole::Student && r.step == VmStep::Ready)
        .collect();
    let txn = run.begin("students queued", None).await?;
    for s in &students {
        set_step(&txn, s.id, VmStep::Queued, StepChange::default()).await?;
    }
    txn.commit().await?;
    let work: Vec<_> = students
        .into_iter()
        .map(|s| reimage(run, &ctx, s, &backing))
        .collect();
    let results: Vec<Result<(), JobError>> = futures_util::stream::iter(work)
        .buffer_unordered(run.settings.per_node.max(1))
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    for r in results {
        if let Err(e) = r
            && e.is_interruption()
        {
            return Err(e);
        }
    }

    // 4. The old export goes once nothing sits on it.
    let old: Vec<String> = ctx
        .class
        .export_paths
        .lines()
        .filter(|p| !exports.values().any(|n| n == p))
        .map(str::to_owned)
        .collect();
    if !old.is_empty() {
        let refs: Vec<&str> = old.iter().map(String::as_str).collect();
        run.guard("remove old export", None).await?;
        ctx.run_script(&NodeOps::remove(Script::new(), &refs)?)
            .await?;
    }
    let txn = run.begin("published", None).await?;
    let mut row: class::ActiveModel = ctx.class.clone().into();
    row.export_paths = Set(exports.values().cloned().collect::<Vec<_>>().join("\n"));
    row.state = Set("ready".into());
    row.update(&txn).await?;
    txn.commit().await?;
    if failed > 0 {
        return Err(JobError::Permanent(Error::Unavailable(format!(
            "{failed} student VM(s) could not be re-created; see their errors."
        ))));
    }
    Ok(Outcome::Done)
}

async fn publish_clones(
    run: &JobRun,
    ctx: &Ctx,
    rows: &[class_vm::Model],
) -> Result<Outcome, JobError> {
    let teacher = rows
        .iter()
        .find(|r| r.role == VmRole::Teacher)
        .ok_or_else(|| {
            JobError::Permanent(Error::Invalid("The class has no teacher VM.".into()))
        })?;
    if teacher.step != VmStep::Ready {
        return Err(JobError::Permanent(Error::Invalid(
            "The class's teacher VM is not ready.".into(),
        )));
    }
    // The base and its copies on other nodes.
    let bases: Vec<&class_vm::Model> = rows.iter().filter(|r| r.role == VmRole::Base).collect();
    let students: Vec<&class_vm::Model> = rows
        .iter()
        .filter(|r| r.role == VmRole::Student && r.step != VmStep::Cancelled)
        .collect();
    let txn = run.begin("publishing", None).await?;
    mark_class(&txn, ctx.class.id, "publishing").await?;
    for r in students.iter().chain(&bases) {
        set_step(&txn, r.id, VmStep::Queued, StepChange::default()).await?;
    }
    txn.commit().await?;

    // 1. The teacher's VM stopped, so the copy is consistent.
    let node = current_node(&run.services, teacher).await?;
    ctx.ensure_stopped(run, &node, teacher.vmid as u32).await?;
    ensure_pool(run, ctx).await?;
    // 2. Nothing uses the old bases any more: their clones go, then they.
    let gone: Vec<_> = students
        .iter()
        .map(|s| destroy_vm(run, ctx, s, None))
        .collect();
    fan_out(run, gone).await?;
    let gone: Vec<_> = bases
        .iter()
        .map(|b| destroy_vm(run, ctx, b, None))
        .collect();
    fan_out(run, gone).await?;
    // 3. The new bases: full copies of the teacher's VM (a copy for another node migrates
    //    there), then templates; 4. each student from the base on its node, as soon as that
    //    base is ready.
    let from_teacher = CloneSource {
        vmid: teacher.vmid as u32,
        node,
        full: true,
    };
    let mut fresh = Vec::new();
    for r in bases.iter().chain(&students) {
        if let Some(r) = reload(&run.services, r).await? {
            fresh.push(r);
        }
    }
    let (fresh_bases, fresh_students): (Vec<_>, Vec<_>) =
        fresh.into_iter().partition(|r| r.role == VmRole::Base);
    bases_then_students(run, ctx, &fresh_bases, &fresh_students, &from_teacher).await?;
    let failed = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(ctx.class.id))
        .filter(class_vm::Column::Step.eq(VmStep::Failed))
        .count(&run.services.db)
        .await?;
    let txn = run.begin("published", None).await?;
    mark_class(&txn, ctx.class.id, "ready").await?;
    txn.commit().await?;
    if failed > 0 {
        return Err(JobError::Permanent(Error::Unavailable(format!(
            "{failed} VM(s) could not be re-created; see their errors."
        ))));
    }
    Ok(Outcome::Done)
}
