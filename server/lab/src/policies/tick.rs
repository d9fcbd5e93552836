//! One evaluation of a cluster's classes: read what the inventory, the activity samples and
//! the stored policy state say, decide per student VM (`decide`), and write only what changed
//! in one transaction, with the acts queued as `power` jobs in it. Only the database and
//! memory are read; the acts are the only Proxmox calls the policies add.
//!
//! Idle time is carried between ticks in [`Memory`] and written to `vm_policies` only when it
//! moved by [`ACTIVE_WRITE_SECS`] or a warning changes, so that busy VMs do not cost a write
//! each per tick; another instance taking over reads a value at most that much older, so it
//! may warn that much early at worst.

use super::calendar::{self, closes_within};
use super::decide::{ClassTime, Facts, Warning, decide};
use super::{schedules, store, usage};
use crate::db::entity::{assignment, class, class_schedule, class_vm, vm, vm_policy};
use crate::inventory::bump_for_vms;
use crate::jobs::queue_power;
use crate::model::{PolicyAction, PolicyReason, PowerOrder, VmRole};
use crate::policy_log::{Entry, record_many};
use crate::{Result, Services};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use std::collections::{BTreeMap, HashMap, HashSet};

/// `vm_policies.active_at` is rewritten when it moved by this much (see the module doc).
pub const ACTIVE_WRITE_SECS: i64 = 300;
/// A boot within this long after a schedule's start is that start's.
const SCHEDULE_BOOT_WINDOW: i64 = 15 * 60;

/// Running student VMs' cards are refreshed this often (their hours move).
const USAGE_REFRESH_SECS: i64 = 300;

/// What the worker keeps between ticks: the precise last-active time per VM.
#[derive(Default)]
pub struct Memory {
    active: HashMap<(i32, i32), i64>,
    last_tick: i64,
}

/// What a tick did (for tests, benchmarks and the log line).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub classes: usize,
    pub vms: usize,
    pub warned: usize,
    pub acted: usize,
    pub started: usize,
    pub jobs: usize,
}

/// Everything a tick reads about one class.
struct ClassView {
    class: class::Model,
    policy: crate::model::ClassPolicy,
    time: ClassTime,
    due: schedules::Due,
}

pub async fn tick(services: &Services, cluster_id: i32, memory: &mut Memory) -> Result<TickReport> {
    let now = services.clock.now();
    let db = &services.db;
    let defaults = store::site_defaults(services).await?;
    let classes: Vec<class::Model> = class::Entity::find()
        .filter(class::Column::ClusterId.eq(cluster_id))
        .filter(class::Column::State.ne("deleting"))
        .all(db)
        .await?;
    let mut report = TickReport {
        classes: classes.len(),
        ..Default::default()
    };
    if classes.is_empty() {
        return Ok(report);
    }
    let ids: Vec<i32> = classes.iter().map(|c| c.id).collect();
    let mut schedule_rows: HashMap<i32, Vec<class_schedule::Model>> = HashMap::new();
    for row in class_schedule::Entity::find()
        .filter(class_schedule::Column::ClassId.is_in(ids.clone()))
        .all(db)
        .await?
    {
        schedule_rows.entry(row.class_id).or_default().push(row);
    }
    let views: HashMap<i32, ClassView> = classes
        .into_iter()
        .map(|class| {
            let policy = store::effective(&class, &defaults);
            let tz = store::zone(&policy, &defaults);
            let warn = policy.warn_minutes as i64 * 60;
            let (weekday, minute, _) = calendar::local(now, &tz);
            let open = policy.hours.is_open(weekday, minute);
            let closes_at = (policy.hours.enabled && open)
                .then(|| closes_within(now, &tz, warn, |d, m| policy.hours.is_open(d, m)))
                .flatten();
            let due = schedules::due(
                schedule_rows.get(&class.id).map_or(&[][..], |r| &r[..]),
                &tz,
                now,
                warn,
            );
            let time = ClassTime {
                open,
                closes_at,
                stop_at: due.stop_at,
            };
            (
                class.id,
                ClassView {
                    class,
                    policy,
                    time,
                    due,
                },
            )
        })
        .collect();
    let students: Vec<class_vm::Model> = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.is_in(ids.clone()))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .all(db)
        .await?;
    let vmids: Vec<i32> = students.iter().map(|r| r.vmid).collect();
    let inventory: HashMap<i32, vm::Model> = in_chunks(&vmids, |chunk| {
        vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(cluster_id))
            .filter(vm::Column::Vmid.is_in(chunk))
            .all(db)
    })
    .await?
    .into_iter()
    .map(|v| (v.vmid, v))
    .collect();
    let owners: HashMap<i32, i32> = in_chunks(&vmids, |chunk| {
        assignment::Entity::find()
            .filter(assignment::Column::ClusterId.eq(cluster_id))
            .filter(assignment::Column::Vmid.is_in(chunk))
            .all(db)
    })
    .await?
    .into_iter()
    .map(|a| (a.vmid, a.user_id))
    .collect();
    let states: HashMap<i32, vm_policy::Model> = vm_policy::Entity::find()
        .filter(vm_policy::Column::ClusterId.eq(cluster_id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.vmid, s))
        .collect();
    let totals = usage::totals(db, &ids).await?;
    let open_runs = usage::open_runs(db, &ids).await?;
    let loads = services.activity.take(cluster_id);

    let mut writes: Vec<vm_policy::ActiveModel> = Vec::new();
    let mut inserts: Vec<vm_policy::ActiveModel> = Vec::new();
    let mut logs: Vec<Entry> = Vec::new();
    let mut orders: BTreeMap<(i32, PolicyAction, PolicyReason), Vec<i32>> = BTreeMap::new();
    let mut runs = Vec::new();
    let mut unknown = HashSet::new();
    // Cards to refresh: a warning came or went, or (every `USAGE_REFRESH_SECS`) the hours of
    // a running student VM moved.
    let mut bump: HashSet<i32> = HashSet::new();
    let refresh_usage = now / USAGE_REFRESH_SECS != memory.last_tick / USAGE_REFRESH_SECS;
    memory.last_tick = now;
    for row in &students {
        let Some(view) = views.get(&row.class_id) else {
            continue;
        };
        let Some(guest) = inventory.get(&row.vmid) else {
            continue; // not made yet, or missing: nothing to watch
        };
        if guest.status == "unknown" {
            unknown.insert(row.vmid);
            continue;
        }
        report.vms += 1;
        let running = guest.status == "running";
        let state = states.get(&row.vmid);
        let student = owners.get(&row.vmid).copied();
        let key = (cluster_id, row.vmid);
        let stored_active = state.map_or(now, |s| s.active_at);
        let active_at = memory
            .active
            .get(&key)
            .copied()
            .unwrap_or(stored_active)
            .max(stored_active);
        let idle = &view.policy.idle;
        let busy = loads.get(&(row.vmid as u32)).map(|l| {
            l.cpu * 100.0 >= idle.cpu_percent as f64
                || l.bytes_per_sec >= idle.net_kib as f64 * 1024.0
        });
        let boot = guest.started_at.filter(|_| running);
        let scheduled_boot = state
            .and_then(|s| s.schedule_boot)
            .zip(boot)
            .is_some_and(|(s, b)| b >= s - 60 && b <= s + SCHEDULE_BOOT_WINDOW);
        let connected = state
            .and_then(|s| s.connected_at)
            .zip(boot)
            .is_some_and(|(c, b)| c >= b);
        let counted = !scheduled_boot || connected;
        let quota_left = student.filter(|_| view.policy.quota_hours > 0).map(|u| {
            let total = totals.get(&(row.class_id, u));
            let open = open_runs.get(&(row.class_id, u));
            usage::allowed_secs(view.policy.quota_hours, total)
                - usage::used_secs(total, open, now)
        });
        if let Some(user_id) = student {
            if refresh_usage && running {
                bump.insert(row.vmid);
            }
            runs.push(usage::Run {
                class_id: row.class_id,
                user_id,
                vmid: row.vmid,
                boot,
                counted,
            });
        }
        let warning = state.and_then(stored_warning);
        let facts = Facts {
            now,
            running,
            started_at: boot,
            busy,
            active_at,
            quota_left,
            warning,
            acted_at: state.and_then(|s| s.acted_at),
        };
        let verdict = decide(&view.policy, view.time, &facts);
        memory.active.insert(key, verdict.active_at);
        if verdict.warning != warning {
            bump.insert(row.vmid);
        }
        if let Some(w) = verdict.warning
            && warning.is_none_or(|old| old.reason != w.reason)
        {
            report.warned += 1;
            logs.push(Entry {
                class_id: row.class_id,
                cluster_id,
                vmid: Some(row.vmid),
                user_id: student,
                action: "warn".into(),
                reason: w.reason.as_str().into(),
                detail: Some(format!("{} in {} min", w.action.label(), (w.due_at - now + 59) / 60)),
                job_id: None,
            });
        }
        if let Some((action, reason)) = verdict.act {
            report.acted += 1;
            orders
                .entry((row.class_id, action, reason))
                .or_default()
                .push(row.vmid);
        }
        let acted_at = if verdict.act.is_some() {
            Some(now)
        } else {
            state.and_then(|s| s.acted_at)
        };
        match state {
            None => inserts.push(vm_policy::ActiveModel {
                cluster_id: Set(cluster_id),
                vmid: Set(row.vmid),
                class_id: Set(row.class_id),
                active_at: Set(verdict.active_at),
                connected_at: Set(None),
                warn_reason: Set(verdict.warning.map(|w| w.reason.as_str().to_string())),
                warn_action: Set(verdict.warning.map(|w| w.action.as_str().to_string())),
                due_at: Set(verdict.warning.map(|w| w.due_at)),
                acted_at: Set(acted_at),
                schedule_boot: Set(None),
                ..Default::default()
            }),
            Some(s) => {
                let moved = verdict.active_at - s.active_at >= ACTIVE_WRITE_SECS;
                let changed = verdict.warning != warning
                    || acted_at != s.acted_at
                    || s.class_id != row.class_id;
                if moved || changed {
                    writes.push(vm_policy::ActiveModel {
                        id: Set(s.id),
                        class_id: Set(row.class_id),
                        active_at: Set(verdict.active_at),
                        warn_reason: Set(verdict.warning.map(|w| w.reason.as_str().to_string())),
                        warn_action: Set(verdict.warning.map(|w| w.action.as_str().to_string())),
                        due_at: Set(verdict.warning.map(|w| w.due_at)),
                        acted_at: Set(acted_at),
                        ..Default::default()
                    });
                }
            }
        }
    }

    // Schedules' starts: every stopped student VM of the class.
    let mut starts: Vec<(i32, Vec<i32>)> = Vec::new();
    for view in views.values() {
        if view.due.start.is_none() {
            continue;
        }
        let stopped: Vec<i32> = students
            .iter()
            .filter(|r| r.class_id == view.class.id)
            .filter(|r| inventory.get(&r.vmid).is_some_and(|v| v.status == "stopped"))
            .map(|r| r.vmid)
            .collect();
        report.started += stopped.len();
        if !stopped.is_empty() {
            starts.push((view.class.id, stopped));
        }
    }

    let txn = db.begin().await?;
    for w in writes {
        vm_policy::Entity::update(w).exec(&txn).await?;
    }
    for chunk in inserts.chunks(200) {
        vm_policy::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    for view in views.values() {
        for (id, at) in &view.due.handled {
            class_schedule::Entity::update_many()
                .col_expr(class_schedule::Column::LastFiredAt, Expr::value(*at))
                .filter(class_schedule::Column::Id.eq(*id))
                .exec(&txn)
                .await?;
        }
        for (action, at) in &view.due.skipped {
            logs.push(Entry {
                class_id: view.class.id,
                cluster_id,
                vmid: None,
                user_id: None,
                action: "skipped".into(),
                reason: PolicyReason::Schedule.as_str().into(),
                detail: Some(format!(
                    "{} due at {at} was found more than {} min late (the portal was not running)",
                    action.label(),
                    schedules::GRACE_SECS / 60
                )),
                job_id: None,
            });
        }
    }
    for (class_id, vmids) in &starts {
        // This boot is the schedule's: not counted until the student connects.
        vm_policy::Entity::update_many()
            .col_expr(vm_policy::Column::ScheduleBoot, Expr::value(now))
            .filter(vm_policy::Column::ClusterId.eq(cluster_id))
            .filter(vm_policy::Column::Vmid.is_in(vmids.clone()))
            .exec(&txn)
            .await?;
        orders
            .entry((*class_id, PolicyAction::Start, PolicyReason::Schedule))
            .or_default()
            .extend(vmids);
    }
    for ((class_id, action, reason), vmids) in orders {
        let order = PowerOrder {
            action,
            reason,
            vmids,
        };
        queue_power(&txn, class_id, &order).await?;
        report.jobs += 1;
    }
    usage::upkeep(&txn, cluster_id, &runs, &unknown, now).await?;
    record_many(&txn, now, logs).await?;
    bump_for_vms(&txn, cluster_id, &bump).await?;
    txn.commit().await?;
    if report.jobs > 0 {
        services.jobs.wake();
    }
    Ok(report)
}

fn stored_warning(s: &vm_policy::Model) -> Option<Warning> {
    let reason = PolicyReason::parse(s.warn_reason.as_deref()?)?;
    let action = match s.warn_action.as_deref()? {
        "hibernate" => PolicyAction::Hibernate,
        _ => PolicyAction::Shutdown,
    };
    Some(Warning {
        reason,
        action,
        due_at: s.due_at?,
    })
}

/// Runs a lookup by VMIDs 500 at a time (SQLite's bound on parameters).
async fn in_chunks<T, F, Fut>(vmids: &[i32], mut find: F) -> Result<Vec<T>>
where
    F: FnMut(Vec<i32>) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<Vec<T>, sea_orm::DbErr>>,
{
    let mut out = Vec::new();
    for chunk in vmids.chunks(500) {
        out.extend(find(chunk.to_vec()).await?);
    }
    Ok(out)
}
