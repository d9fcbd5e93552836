//! Publish: the teacher's VM becomes the new class base. Its disks are exported (flattened)
//! to a new file, the class base and the teacher's VM are put on it, and every student VM is
//! re-created as a fresh overlay of the class base (student changes are discarded: the page
//! says so before the teacher confirms). Never `qemu-img rebase -u` onto different content.

use super::context::Ctx;
use super::create::{data_disk_paths, mark_class, set_step};
use super::reset::{current_node, reimage};
use super::{DeploySettings, Outcome};
use crate::db::entity::{class, job};
use crate::node::{NodeOps, Script};
use crate::{Error, Result, Services};
use futures_util::StreamExt;
use sea_orm::{ActiveModelTrait, Set};
use std::collections::BTreeMap;

pub(super) async fn run(
    services: &Services,
    settings: &DeploySettings,
    job: &job::Model,
    class: class::Model,
) -> Result<Outcome> {
    let ctx = Ctx::open(services, class).await?;
    let rows = ctx.rows(services).await?;
    let ready = |role: &str| {
        rows.iter()
            .find(|r| r.role == role && r.step == "ready")
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("The class's {role} VM is not ready.")))
    };
    let teacher = ready("teacher")?;
    let base = ready("base")?;
    mark_class(services, &ctx.class, "publishing").await?;

    // 1. A new export from the teacher's (stopped) VM; named after the job, so a resumed
    //    job finds the export it already made.
    set_step(services, &teacher, "creating", None).await?;
    ctx.ensure_stopped(
        &current_node(services, &teacher).await?,
        teacher.vmid as u32,
    )
    .await?;
    let dir = ctx
        .paths
        .export_dir(&ctx.class.storage, ctx.class.vmid_base as u32)?;
    let mut script = NodeOps::mkdir(Script::new(), &dir)?;
    let mut exports = BTreeMap::new();
    for (slot, path) in data_disk_paths(&ctx, &teacher)? {
        let dst = format!("{dir}/{slot}-v{}.qcow2", job.id);
        script = NodeOps::export_disk(script, &path, &dst)?;
        exports.insert(slot, dst);
    }
    ctx.shell.run(&script, b"").await?;

    // 2. The class base and the teacher's VM on the new export.
    reimage(services, &ctx, &base, &exports).await?;
    reimage(services, &ctx, &teacher, &exports).await?;

    // 3. Every student VM afresh on the class base.
    let backing = data_disk_paths(&ctx, &base)?;
    let students: Vec<_> = rows
        .iter()
        .filter(|r| r.role == "student" && r.step == "ready")
        .collect();
    for s in &students {
        set_step(services, s, "queued", None).await?;
    }
    let work: Vec<_> = students
        .into_iter()
        .map(|s| reimage(services, &ctx, s, &backing))
        .collect();
    let results: Vec<Result<()>> = futures_util::stream::iter(work)
        .buffer_unordered(settings.per_node.max(1))
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();

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
        ctx.shell
            .run(&NodeOps::remove(Script::new(), &refs)?, b"")
            .await?;
    }
    let mut row: class::ActiveModel = ctx.class.clone().into();
    row.export_paths = Set(exports.values().cloned().collect::<Vec<_>>().join("\n"));
    row.state = Set("ready".into());
    row.update(&services.db).await?;
    if failed > 0 {
        return Err(Error::Unavailable(format!(
            "{failed} student VM(s) could not be re-created; see their errors."
        )));
    }
    Ok(Outcome::Done)
}
