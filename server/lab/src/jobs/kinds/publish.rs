//! Publish: the teacher's VM becomes the new class base. Its disks are exported (flattened)
//! to a new file, the class base and the teacher's VM are put on it, and every student VM is
//! re-created as a fresh overlay of the class base (student changes are discarded: the page
//! says so before the teacher confirms). Never `qemu-img rebase -u` onto different content.

use crate::Error;
use crate::db::entity::class;
use crate::jobs::error::JobError;
use crate::jobs::run::{JobRun, Outcome};
use crate::jobs::steps::context::Ctx;
use crate::jobs::steps::disks::data_disk_paths;
use crate::jobs::steps::export::export_disks;
use crate::jobs::steps::reimage::reimage;
use crate::jobs::steps::rows::{StepChange, current_node, mark_class, set_step};
use crate::model::{VmRole, VmStep};
use crate::node::{NodeOps, Script};
use futures_util::StreamExt;
use sea_orm::{ActiveModelTrait, Set};

pub async fn run(run: &JobRun, class: class::Model) -> Result<Outcome, JobError> {
    let services = &run.services;
    let ctx = Ctx::open(services, class).await?;
    let rows = ctx.rows(services).await?;
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
        ctx.shell
            .run(&NodeOps::remove(Script::new(), &refs)?, b"")
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
