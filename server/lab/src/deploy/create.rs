//! The deploy job: export the template's disks once, make the class base and the teacher's
//! VM as overlays of the export, then the students as overlays of the class base
//! (a 3-level backing chain), bounded per node, each VM in one idempotent script.

use super::context::Ctx;
use super::{DeploySettings, Outcome, claim};
use crate::clock::now;
use crate::db::entity::{assignment, class, class_vm, job};
use crate::node::guest_config::{DiskKind, GuestConfig, Rewrite, random_uuid, rewrite};
use crate::node::{NodeError, NodeOps, Script};
use crate::{Error, Result, Services, inventory};
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use std::collections::BTreeMap;
use std::time::Duration;

pub(super) async fn run_job(
    services: &Services,
    settings: &DeploySettings,
    job: &job::Model,
) -> Result<Outcome> {
    let Some(class) = class::Entity::find_by_id(job.class_id)
        .one(&services.db)
        .await?
    else {
        return Ok(Outcome::Done); // deleted meanwhile: nothing left to do
    };
    match job.kind.as_str() {
        "deploy" => {
            let id = class.id;
            let result = deploy(services, settings, job, class).await;
            if let Err(e) = &result {
                fail_unfinished(services, id, e).await?;
            }
            result
        }
        "reset" => super::reset::run(services, settings, job, class).await,
        "publish" => super::publish::run(services, settings, job, class).await,
        "delete" => super::delete::run(services, class).await,
        "remove" => match job.vmid {
            Some(vmid) => super::delete::remove_one(services, class, vmid).await,
            None => Err(Error::Internal("remove job without a VM".into())),
        },
        "respec" => super::respec::run(services, class).await,
        other => Err(Error::Internal(format!("unknown job kind {other}"))),
    }
}

/// Where each VM's data disks come from.
#[derive(Clone)]
pub(super) enum Source {
    /// slot → absolute path of the qcow2 to put an overlay on.
    Overlay(BTreeMap<String, String>),
    /// Blank disks of this many GiB (a class without a template).
    Blank(u32),
}

/// The config every VM of the class is cloned from: the template's, or a plain one.
pub(super) async fn source_config(ctx: &Ctx) -> Result<GuestConfig> {
    let c = &ctx.class;
    match (c.template_vmid, &c.template_node) {
        (Some(tid), Some(node)) => ctx.read_config(node, tid as u32).await?.ok_or_else(|| {
            Error::Invalid(format!(
                "The template's config (VM {tid} on {node}) is gone."
            ))
        }),
        _ => {
            let text = format!(
                "agent: 1\nboot: order=scsi0\ncores: {}\nmemory: {}\nnet0: virtio=00:00:00:00:00:00,bridge=vmbr0\nostype: l26\nscsi0: {}:{}/vm-{}-disk-0.qcow2,size={}G\nscsihw: virtio-scsi-single\n",
                c.cores.unwrap_or(1),
                c.memory_mb.unwrap_or(1024),
                c.storage,
                c.vmid_base + 99,
                c.vmid_base + 99,
                c.disk_gb.unwrap_or(8)
            );
            GuestConfig::parse(&text).map_err(|e| Error::Internal(e.to_string()))
        }
    }
}

/// Exports the template's data disks (once; a file that exists is done). Returns
/// slot → export path.
async fn export(
    ctx: &Ctx,
    services: &Services,
    source: &GuestConfig,
) -> Result<BTreeMap<String, String>> {
    let dir = ctx
        .paths
        .export_dir(&ctx.class.storage, ctx.class.vmid_base as u32)?;
    let mut script = NodeOps::mkdir(Script::new(), &dir)?;
    let mut exports = BTreeMap::new();
    for d in source
        .disks()
        .into_iter()
        .filter(|d| d.kind == DiskKind::Data)
    {
        let volid = d.volid.as_deref().ok_or_else(|| {
            Error::Invalid(format!("The template's disk {} has no volume.", d.slot))
        })?;
        let src = ctx.paths.volume(volid)?;
        let dst = format!("{dir}/{}.qcow2", d.slot);
        script = NodeOps::export_disk(script, &src, &dst)?;
        exports.insert(d.slot.clone(), dst);
    }
    if let Err(e) = ctx.shell.run(&script, b"").await {
        // Nothing sits on a half-made export yet: remove it, so nothing stays behind.
        let _ = ctx
            .shell
            .run(&NodeOps::remove_dir(Script::new(), &dir)?, b"")
            .await;
        return Err(Error::Unavailable(format!(
            "The template's disk could not be exported: {e}"
        )));
    }
    let mut row: class::ActiveModel = ctx.class.clone().into();
    row.export_paths = Set(exports.values().cloned().collect::<Vec<_>>().join("\n"));
    row.update(&services.db).await?;
    Ok(exports)
}

async fn deploy(
    services: &Services,
    settings: &DeploySettings,
    job: &job::Model,
    class: class::Model,
) -> Result<Outcome> {
    let ctx = Ctx::open(services, class).await?;
    let rows = ctx.rows(services).await?;
    let source = source_config(&ctx).await?;
    let exports = match ctx.class.template_vmid {
        Some(_) => {
            // The page shows the export on the two VMs that wait for it.
            for r in rows
                .iter()
                .filter(|r| r.role != "student" && r.step == "queued")
            {
                set_step(services, r, "exporting", None).await?;
            }
            Source::Overlay(export(&ctx, services, &source).await?)
        }
        None => Source::Blank(ctx.class.disk_gb.unwrap_or(8) as u32),
    };
    let base = rows.iter().find(|r| r.role == "base").cloned();
    let teacher = rows.iter().find(|r| r.role == "teacher").cloned();
    // The class base and the teacher's VM both sit on the export.
    let first: Vec<class_vm::Model> = base.iter().chain(teacher.iter()).cloned().collect();
    let results = futures_util::future::join_all(
        first
            .iter()
            .map(|r| make_vm(services, settings, &ctx, job.id, r, &source, &exports)),
    )
    .await;
    for r in results {
        if let Err(Stop::Cancelled) = r {
            return cancel_rest(services, &ctx).await;
        }
    }
    let base = reload(services, base.as_ref()).await?;
    let Some(base) = base.filter(|b| b.step == "ready") else {
        mark_class(services, &ctx.class, "failed").await?;
        return Err(Error::Invalid(
            "The class base could not be made; see the VM's error.".into(),
        ));
    };
    // Students sit on the class base.
    let student_source = match &exports {
        Source::Overlay(_) => Source::Overlay(data_disk_paths(&ctx, &base)?),
        blank => blank.clone(),
    };
    let students: Vec<class_vm::Model> = rows.into_iter().filter(|r| r.role == "student").collect();
    let nodes = students
        .iter()
        .map(|r| r.node.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let limit = (settings.per_node * nodes.max(1)).max(1);
    let mut cancelled = false;
    // Futures collected first: a `map` closure inside the stream trips the compiler's
    // higher-ranked lifetime check when this future is spawned.
    let work: Vec<_> = students
        .iter()
        .map(|r| {
            make_vm(
                services,
                settings,
                &ctx,
                job.id,
                r,
                &source,
                &student_source,
            )
        })
        .collect();
    let mut stream = futures_util::stream::iter(work).buffer_unordered(limit);
    while let Some(r) = stream.next().await {
        if let Err(Stop::Cancelled) = r {
            cancelled = true;
        }
    }
    drop(stream);
    if cancelled {
        return cancel_rest(services, &ctx).await;
    }
    assign_teacher(services, &ctx).await?;
    mark_class(services, &ctx.class, "ready").await?;
    ctx.record_commands(services, job.id).await?;
    Ok(Outcome::Done)
}

/// A deployment that cannot go on (template gone, node unreachable, host key mismatch):
/// the VMs not made yet are marked failed with the reason, and so is the class.
async fn fail_unfinished(services: &Services, class_id: i32, e: &Error) -> Result<()> {
    class_vm::Entity::update_many()
        .col_expr(class_vm::Column::Step, Expr::value("failed"))
        .col_expr(class_vm::Column::Error, Expr::value(e.to_string()))
        .col_expr(class_vm::Column::UpdatedAt, Expr::value(now()))
        .filter(class_vm::Column::ClassId.eq(class_id))
        .filter(class_vm::Column::Step.is_in(["queued", "exporting", "creating"]))
        .exec(&services.db)
        .await?;
    class::Entity::update_many()
        .col_expr(class::Column::State, Expr::value("failed"))
        .filter(class::Column::Id.eq(class_id))
        .filter(class::Column::State.ne("deleting"))
        .exec(&services.db)
        .await?;
    Ok(())
}

/// slot → path of each data disk a (made) VM has, from its row.
pub(super) fn data_disk_paths(
    ctx: &Ctx,
    row: &class_vm::Model,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in row.disks.split(',').filter(|p| !p.is_empty()) {
        let (slot, volid) = pair
            .split_once('=')
            .ok_or_else(|| Error::Internal(format!("bad disk record {pair:?}")))?;
        if slot != "efidisk0" && slot != "tpmstate0" {
            out.insert(slot.to_owned(), ctx.paths.volume(volid)?);
        }
    }
    Ok(out)
}

async fn reload(
    services: &Services,
    row: Option<&class_vm::Model>,
) -> Result<Option<class_vm::Model>> {
    match row {
        Some(r) => Ok(class_vm::Entity::find_by_id(r.id).one(&services.db).await?),
        None => Ok(None),
    }
}

pub(super) async fn mark_class(
    services: &Services,
    class: &class::Model,
    state: &str,
) -> Result<()> {
    class::Entity::update_many()
        .col_expr(class::Column::State, Expr::value(state))
        .filter(class::Column::Id.eq(class.id))
        .filter(class::Column::State.ne("deleting"))
        .exec(&services.db)
        .await?;
    Ok(())
}

async fn cancel_rest(services: &Services, ctx: &Ctx) -> Result<Outcome> {
    class_vm::Entity::update_many()
        .col_expr(class_vm::Column::Step, Expr::value("cancelled"))
        .col_expr(class_vm::Column::UpdatedAt, Expr::value(now()))
        .filter(class_vm::Column::ClassId.eq(ctx.class.id))
        .filter(class_vm::Column::Step.is_in(["queued", "exporting"]))
        .exec(&services.db)
        .await?;
    mark_class(services, &ctx.class, "cancelled").await?;
    Ok(Outcome::Cancelled)
}

/// The teacher's VM is theirs from the start.
async fn assign_teacher(services: &Services, ctx: &Ctx) -> Result<()> {
    let vmid = ctx.class.vmid_base;
    let exists = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(ctx.class.cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await?
        .is_some();
    let ready = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(ctx.class.id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .filter(class_vm::Column::Step.eq("ready"))
        .one(&services.db)
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
        .insert(&services.db)
        .await?;
        inventory::bump(&services.db, [inventory::user_key(ctx.class.owner_id)]).await?;
    }
    Ok(())
}

/// Why a VM step stopped early.
pub(super) enum Stop {
    Cancelled,
    Failed,
}

pub(super) async fn set_step(
    services: &Services,
    row: &class_vm::Model,
    step: &str,
    error: Option<String>,
) -> Result<()> {
    let at = now();
    let mut update = class_vm::Entity::update_many()
        .col_expr(class_vm::Column::Step, Expr::value(step))
        .col_expr(class_vm::Column::Error, Expr::value(error))
        .col_expr(class_vm::Column::UpdatedAt, Expr::value(at));
    match step {
        "creating" => {
            update = update.col_expr(class_vm::Column::StartedAt, Expr::value(at));
        }
        "ready" | "failed" => {
            update = update.col_expr(class_vm::Column::FinishedAt, Expr::value(at));
        }
        _ => {}
    }
    update
        .filter(class_vm::Column::Id.eq(row.id))
        .exec(&services.db)
        .await?;
    Ok(())
}

/// The new volids of a VM: one per disk slot of the source (CD-ROMs excluded), numbered the
/// way PVE numbers a guest's disks.
pub(super) fn new_volids(
    source: &GuestConfig,
    storage: &str,
    vmid: u32,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut index = 0;
    for d in source.disks() {
        let ext = match d.kind {
            DiskKind::CdRom => continue,
            // PVE (re)generates the cloud-init drive at start; the clone only needs its name.
            DiskKind::CloudInit => {
                out.insert(
                    d.slot.clone(),
                    format!("{storage}:{vmid}/vm-{vmid}-cloudinit.qcow2"),
                );
                continue;
            }
            DiskKind::Tpm => "raw",
            DiskKind::Efi => d
                .volid
                .as_deref()
                .and_then(|v| v.rsplit_once('.'))
                .map(|(_, e)| e)
                .filter(|e| *e == "raw" || *e == "qcow2")
                .unwrap_or("raw"),
            DiskKind::Data => "qcow2",
        };
        out.insert(
            d.slot.clone(),
            format!("{storage}:{vmid}/vm-{vmid}-disk-{index}.{ext}"),
        );
        index += 1;
    }
    out
}

/// Makes one VM: disks, then its config (the moment it exists). Idempotent; retried; cleaned
/// up when it keeps failing.
async fn make_vm(
    services: &Services,
    settings: &DeploySettings,
    ctx: &Ctx,
    job_id: i32,
    row: &class_vm::Model,
    source: &GuestConfig,
    disks: &Source,
) -> Result<(), Stop> {
    if matches!(row.step.as_str(), "ready" | "failed" | "cancelled") {
        return Ok(());
    }
    if claim::cancelled(services, job_id).await.unwrap_or(false) {
        return Err(Stop::Cancelled);
    }
    let _ = set_step(services, row, "creating", None).await;
    let vmid = row.vmid as u32;
    let volids = new_volids(source, &ctx.class.storage, vmid);
    let mut attempt = row.attempts;
    loop {
        attempt += 1;
        let result = async {
            let script = vm_script(ctx, row, source, disks, &volids)?;
            ctx.shell.run(&script, b"").await?;
            Ok::<_, Error>(())
        }
        .await;
        let _ = class_vm::Entity::update_many()
            .col_expr(class_vm::Column::Attempts, Expr::value(attempt))
            .filter(class_vm::Column::Id.eq(row.id))
            .exec(&services.db)
            .await;
        match result {
            Ok(()) => {
                let record: Vec<String> = volids.iter().map(|(s, v)| format!("{s}={v}")).collect();
                let _ = class_vm::Entity::update_many()
                    .col_expr(class_vm::Column::Disks, Expr::value(record.join(",")))
                    .filter(class_vm::Column::Id.eq(row.id))
                    .exec(&services.db)
                    .await;
                let _ = set_step(services, row, "ready", None).await;
                return Ok(());
            }
            Err(e) if attempt < settings.attempts && retryable(&e) => {
                tracing::info!(vmid, attempt, error = %e, "retrying VM");
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt as u32))).await;
            }
            Err(e) => {
                tracing::warn!(vmid, error = %e, "VM failed; cleaning up");
                let _ = cleanup(ctx, row, &volids).await;
                let _ = set_step(services, row, "failed", Some(e.to_string())).await;
                return Err(Stop::Failed);
            }
        }
    }
}

fn retryable(e: &Error) -> bool {
    // A taken VMID or a bad name will not get better by trying again.
    !matches!(e, Error::Invalid(_)) && !e.to_string().contains("already used by another guest")
}

/// The script that makes one VM (its config text inside).
fn vm_script(
    ctx: &Ctx,
    row: &class_vm::Model,
    source: &GuestConfig,
    disks: &Source,
    volids: &BTreeMap<String, String>,
) -> Result<Script> {
    let vmid = row.vmid as u32;
    let config_path = ctx.paths.config(&row.node, vmid)?;
    let macs: Vec<String> = row
        .macs
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    let own_mac = macs.first().cloned().unwrap_or_default();
    let mut script =
        Script::new().guard_vmid(ctx.paths.pve_root(), vmid, &config_path, &own_mac)?;
    script = NodeOps::mkdir(script, &ctx.paths.images_dir(&ctx.class.storage, vmid)?)?;
    for d in source
        .disks()
        .into_iter()
        .filter(|d| !matches!(d.kind, DiskKind::CdRom | DiskKind::CloudInit))
    {
        let dst = ctx.paths.volume(&volids[&d.slot])?;
        script = match d.kind {
            DiskKind::Data => match disks {
                Source::Overlay(backing) => {
                    let b = backing.get(&d.slot).ok_or_else(|| {
                        Error::Invalid(format!("No base disk for slot {}.", d.slot))
                    })?;
                    NodeOps::overlay(script, b, &dst)?
                }
                Source::Blank(gb) => NodeOps::blank_disk(script, &dst, *gb)?,
            },
            DiskKind::Efi => match d.volid.as_deref() {
                Some(src) => NodeOps::copy(script, &ctx.paths.volume(src)?, &dst)?,
                None => script,
            },
            DiskKind::Tpm => NodeOps::tpm_state(script, &dst)?,
            DiskKind::CdRom | DiskKind::CloudInit => script,
        };
    }
    let config = rewrite(
        source,
        &Rewrite {
            name: row.name.clone(),
            template: row.role == "base",
            disks: volids.clone(),
            macs,
            smbios_uuid: random_uuid(),
            vmgenid: random_uuid(),
            cores: ctx.class.cores.map(|v| v as u32),
            memory_mb: ctx.class.memory_mb.map(|v| v as u32),
        },
    )
    .map_err(|e| Error::Invalid(e.to_string()))?;
    let script = NodeOps::write_once(script, &config_path, &config.to_text())?;
    Ok(script)
}

/// Removes what a failed VM may have left: its config (only if it is ours) and its disks.
async fn cleanup(
    ctx: &Ctx,
    row: &class_vm::Model,
    volids: &BTreeMap<String, String>,
) -> Result<()> {
    let vmid = row.vmid as u32;
    let config_path = ctx.paths.config(&row.node, vmid)?;
    let own_mac = row.macs.split(',').next().unwrap_or_default();
    let mut files: Vec<String> = Vec::new();
    for v in volids.values() {
        let p = ctx.paths.volume(v)?;
        files.push(format!("{p}.part"));
        files.push(p);
    }
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let script = NodeOps::remove_own_config(Script::new(), &config_path, own_mac)?;
    let script = NodeOps::remove(script, &refs)?;
    ctx.shell
        .run(&script, b"")
        .await
        .map_err(|e: NodeError| e.into())
        .map(|_| ())
}
