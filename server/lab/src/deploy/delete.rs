//! Deleting a class: student VMs, then the teacher's, then the class base (the others sit on
//! it) are destroyed through the API; leftovers of VMs that never came to exist are removed
//! over the shell; then the export; the rows go last.

use super::Outcome;
use super::context::Ctx;
use super::create::new_volids;
use super::reset::current_node;
use crate::db::entity::{assignment, class, class_owner, class_vm, job};
use crate::node::guest_config::GuestConfig;
use crate::node::{NodeOps, Script};
use crate::pve::GuestKind;
use crate::revocation::Revoked;
use crate::{Error, Result, Services, inventory};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use std::time::Duration;

/// Destroys one VM of the class if it is ours (its config carries our MAC) through the API,
/// then removes any file of it PVE did not (or that never got a config).
pub(super) async fn destroy_vm(
    services: &Services,
    ctx: &Ctx,
    row: &class_vm::Model,
    source: Option<&GuestConfig>,
) -> Result<()> {
    let vmid = row.vmid as u32;
    let node = current_node(services, row).await?;
    let own_mac = row
        .macs
        .split(',')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let ours = ctx
        .read_config(&node, vmid)
        .await?
        .is_some_and(|c| c.macs().iter().any(|m| m.to_ascii_uppercase() == own_mac));
    if ours {
        ctx.ensure_stopped(&node, vmid).await?;
        let upid = ctx
            .client
            .destroy_guest(&node, GuestKind::Qemu, vmid)
            .await?;
        let status = ctx
            .client
            .wait_task(&node, &upid, Duration::from_secs(300))
            .await?;
        if status.succeeded() == Some(false) {
            return Err(Error::Proxmox(status.exitstatus.unwrap_or_default()));
        }
    }
    if let Some(src) = source {
        let mut files = Vec::new();
        for v in new_volids(src, &ctx.class.storage, vmid).values() {
            let p = ctx.paths.volume(v)?;
            files.push(format!("{p}.part"));
            files.push(p);
        }
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        ctx.shell
            .run(&NodeOps::remove(Script::new(), &refs)?, b"")
            .await?;
    }
    Ok(())
}

/// The remove job: one student VM destroyed, then its row and assignments.
pub(super) async fn remove_one(
    services: &Services,
    class: class::Model,
    vmid: i32,
) -> Result<Outcome> {
    let ctx = Ctx::open(services, class).await?;
    let rows = ctx.rows(services).await?;
    let Some(row) = rows.iter().find(|r| r.vmid == vmid) else {
        return Ok(Outcome::Done);
    };
    let source = super::create::source_config(&ctx).await.ok();
    destroy_vm(services, &ctx, row, source.as_ref()).await?;
    let txn = services.db.begin().await?;
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

fn order(role: &str) -> u8 {
    match role {
        "student" => 0,
        "teacher" => 1,
        _ => 2,
    }
}

pub(super) async fn run(services: &Services, class: class::Model) -> Result<Outcome> {
    let ctx = Ctx::open(services, class).await?;
    let mut rows = ctx.rows(services).await?;
    rows.sort_by_key(|r| (order(&r.role), r.vmid));
    let source = super::create::source_config(&ctx).await.ok();
    for row in &rows {
        destroy_vm(services, &ctx, row, source.as_ref()).await?;
    }
    let dir = ctx
        .paths
        .export_dir(&ctx.class.storage, ctx.class.vmid_base as u32)?;
    ctx.shell
        .run(&NodeOps::remove_dir(Script::new(), &dir)?, b"")
        .await?;

    let txn = services.db.begin().await?;
    assignment::Entity::delete_many()
        .filter(assignment::Column::ClusterId.eq(ctx.class.cluster_id))
        .filter(assignment::Column::Vmid.between(ctx.class.vmid_base, ctx.class.vmid_base + 99))
        .exec(&txn)
        .await?;
    class_vm::Entity::delete_many()
        .filter(class_vm::Column::ClassId.eq(ctx.class.id))
        .exec(&txn)
        .await?;
    job::Entity::delete_many()
        .filter(job::Column::ClassId.eq(ctx.class.id))
        .filter(job::Column::Kind.ne("delete"))
        .exec(&txn)
        .await?;
    class_owner::Entity::delete_many()
        .filter(class_owner::Column::ClassId.eq(ctx.class.id))
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
