//! Quota hours, counted from the inventory: a student's VM runs from its boot time (Proxmox's
//! uptime, `vms.started_at`) to the last tick that saw it running. The runs are rows of
//! `usage_intervals` (the log the teacher sees); `usage_totals` keeps the counted seconds of
//! the closed ones, added in the transaction that closes a run, so a tick reads one row per
//! student instead of summing the history.
//!
//! Right across restarts and instances because nothing lives in memory: an open run is in the
//! database, and a VM that kept running while no portal watched is still the same boot (same
//! `started_at`), so its whole run counts; a run that ended meanwhile ends at the last tick
//! that saw it (at most one tick short), and a boot that began meanwhile counts from its
//! start.
//!
//! A schedule's start does not count until the student connects (as Azure Lab Services does
//! not count scheduled time against quota): the run opens uncounted, and the first console,
//! terminal or SSH tab the student opens closes it and opens a counted one from that moment.

use crate::db::entity::{usage_interval, usage_total};
use crate::model::UsageView;
use crate::{Result, Services};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use std::collections::HashMap;

/// A start time that moves by less than this is the same boot.
const SAME_BOOT_SLACK: i64 = 15;

/// A student VM as the tick sees it.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub class_id: i32,
    pub user_id: i32,
    pub vmid: i32,
    /// `Some(boot)` while running; `None` when stopped. (VMs in an unknown state are not
    /// passed: their runs stay as they are.)
    pub boot: Option<i64>,
    /// Whether this boot counts now (not a schedule's start the student has not joined yet).
    pub counted: bool,
}

/// Per (class, student): the closed seconds, the extra seconds and the reset time.
pub type Totals = HashMap<(i32, i32), usage_total::Model>;

/// The cluster's open runs (read once per tick: `upkeep` takes them back).
pub async fn open_in_cluster(
    db: &impl ConnectionTrait,
    cluster_id: i32,
) -> Result<Vec<usage_interval::Model>> {
    Ok(usage_interval::Entity::find()
        .filter(usage_interval::Column::ClusterId.eq(cluster_id))
        .filter(usage_interval::Column::EndedAt.is_null())
        .all(db)
        .await?)
}

/// Brings the cluster's open runs (`open`, from [`open_in_cluster`]) in line with what the VMs do now: opens, closes, switches
/// to counted, and moves `seen_at` of the rest. An open run of a VM that is no longer a
/// student's VM is closed; the runs of VMs in `unknown` (their node or the API cannot be
/// reached) are left as they are, `seen_at` included.
pub async fn upkeep(
    db: &impl ConnectionTrait,
    cluster_id: i32,
    runs: &[Run],
    unknown: &std::collections::HashSet<i32>,
    now: i64,
    open: Vec<usage_interval::Model>,
) -> Result<()> {
    let mut open_by_vm: HashMap<i32, usage_interval::Model> =
        open.into_iter().map(|r| (r.vmid, r)).collect();
    for run in runs {
        let current = open_by_vm.remove(&run.vmid);
        let Some(boot) = run.boot else {
            if let Some(iv) = current {
                close(db, &iv, iv.seen_at).await?;
            }
            continue;
        };
        match current {
            Some(iv)
                if iv.user_id == run.user_id
                    && iv.class_id == run.class_id
                    && iv.started_at >= boot - SAME_BOOT_SLACK =>
            {
                if run.counted && !iv.counted {
                    // The student connected to a schedule's run: count from now.
                    close(db, &iv, now).await?;
                    open_run(db, cluster_id, run, now, now).await?;
                }
            }
            other => {
                if let Some(iv) = other {
                    close(db, &iv, iv.seen_at).await?;
                }
                open_run(db, cluster_id, run, boot, now).await?;
            }
        }
    }
    // Runs of VMs that are no longer a student's (unassigned, removed, deleted).
    for iv in open_by_vm.into_values() {
        if !unknown.contains(&iv.vmid) {
            close(db, &iv, iv.seen_at).await?;
        }
    }
    usage_interval::Entity::update_many()
        .col_expr(usage_interval::Column::SeenAt, Expr::value(now))
        .filter(usage_interval::Column::ClusterId.eq(cluster_id))
        .filter(usage_interval::Column::EndedAt.is_null())
        .filter(usage_interval::Column::Vmid.is_not_in(unknown.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

async fn open_run(
    db: &impl ConnectionTrait,
    cluster_id: i32,
    run: &Run,
    from: i64,
    now: i64,
) -> Result<()> {
    usage_interval::ActiveModel {
        class_id: Set(run.class_id),
        user_id: Set(run.user_id),
        cluster_id: Set(cluster_id),
        vmid: Set(run.vmid),
        started_at: Set(from),
        seen_at: Set(now.max(from)),
        ended_at: Set(None),
        counted: Set(run.counted),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Ends a run at `end` and adds its counted part (after the student's last reset) to their
/// total, in the caller's transaction.
async fn close(db: &impl ConnectionTrait, iv: &usage_interval::Model, end: i64) -> Result<()> {
    usage_interval::Entity::update_many()
        .col_expr(usage_interval::Column::EndedAt, Expr::value(end))
        .col_expr(usage_interval::Column::SeenAt, Expr::value(end))
        .filter(usage_interval::Column::Id.eq(iv.id))
        .exec(db)
        .await?;
    if !iv.counted {
        return Ok(());
    }
    let reset_at = usage_total::Entity::find()
        .filter(usage_total::Column::ClassId.eq(iv.class_id))
        .filter(usage_total::Column::UserId.eq(iv.user_id))
        .one(db)
        .await?
        .and_then(|t| t.reset_at);
    let secs = (end - iv.started_at.max(reset_at.unwrap_or(i64::MIN))).max(0);
    add(db, iv.class_id, iv.user_id, secs, 0).await
}

/// Adds closed and extra seconds to a student's total (creating it).
pub async fn add(
    db: &impl ConnectionTrait,
    class_id: i32,
    user_id: i32,
    closed: i64,
    extra: i64,
) -> Result<()> {
    usage_total::Entity::insert(usage_total::ActiveModel {
        class_id: Set(class_id),
        user_id: Set(user_id),
        closed_secs: Set(closed),
        extra_secs: Set(extra),
        reset_at: Set(None),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([usage_total::Column::ClassId, usage_total::Column::UserId])
            .value(
                usage_total::Column::ClosedSecs,
                sea_orm::sea_query::ExprTrait::add(
                    Expr::col((usage_total::Entity, usage_total::Column::ClosedSecs)),
                    closed,
                ),
            )
            .value(
                usage_total::Column::ExtraSecs,
                sea_orm::sea_query::ExprTrait::add(
                    Expr::col((usage_total::Entity, usage_total::Column::ExtraSecs)),
                    extra,
                ),
            )
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Starts a student's count again from `now` (their runs stay in the log).
pub async fn reset(services: &Services, class_id: i32, user_id: i32, now: i64) -> Result<()> {
    add(&services.db, class_id, user_id, 0, 0).await?;
    usage_total::Entity::update_many()
        .col_expr(usage_total::Column::ClosedSecs, Expr::value(0i64))
        .col_expr(usage_total::Column::ExtraSecs, Expr::value(0i64))
        .col_expr(usage_total::Column::ResetAt, Expr::value(now))
        .filter(usage_total::Column::ClassId.eq(class_id))
        .filter(usage_total::Column::UserId.eq(user_id))
        .exec(&services.db)
        .await?;
    Ok(())
}

/// Every total of the given classes.
pub async fn totals(db: &impl ConnectionTrait, class_ids: &[i32]) -> Result<Totals> {
    Ok(usage_total::Entity::find()
        .filter(usage_total::Column::ClassId.is_in(class_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| ((t.class_id, t.user_id), t))
        .collect())
}

/// The open runs of the given classes, by (class, student).
pub async fn open_runs(
    db: &impl ConnectionTrait,
    class_ids: &[i32],
) -> Result<HashMap<(i32, i32), usage_interval::Model>> {
    Ok(usage_interval::Entity::find()
        .filter(usage_interval::Column::ClassId.is_in(class_ids.iter().copied()))
        .filter(usage_interval::Column::EndedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|r| ((r.class_id, r.user_id), r))
        .collect())
}

/// Seconds a student has used: closed runs since the reset, plus the open run's counted part
/// up to `now`.
pub fn used_secs(
    total: Option<&usage_total::Model>,
    open: Option<&usage_interval::Model>,
    now: i64,
) -> i64 {
    let reset_at = total.and_then(|t| t.reset_at).unwrap_or(i64::MIN);
    let closed = total.map_or(0, |t| t.closed_secs);
    let running = open
        .filter(|iv| iv.counted)
        .map_or(0, |iv| (now - iv.started_at.max(reset_at)).max(0));
    closed + running
}

/// The allowance: the quota plus what the teacher added; 0 = unlimited.
pub fn allowed_secs(quota_hours: u32, total: Option<&usage_total::Model>) -> i64 {
    if quota_hours == 0 {
        return 0;
    }
    quota_hours as i64 * 3600 + total.map_or(0, |t| t.extra_secs)
}

pub fn view(
    quota_hours: u32,
    total: Option<&usage_total::Model>,
    open: Option<&usage_interval::Model>,
    now: i64,
    hours_today: Vec<String>,
    open_now: bool,
) -> UsageView {
    UsageView {
        used_secs: used_secs(total, open, now),
        allowed_secs: allowed_secs(quota_hours, total),
        hours_today,
        open_now,
    }
}
