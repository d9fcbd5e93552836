//! Where people meet the policies: a student's start refused outside the access hours or
//! with no quota left, "I'm still here", a console or terminal tab keeping its VM active, and
//! the warning and hours each dashboard card shows.

use super::{calendar, store, usage};
use crate::db::entity::{assignment, class, class_vm, user, vm_policy};
use crate::inventory::{bump_for_vms, usable_vm};
use crate::model::{
    ClassPolicy, PolicyAction, PolicyNotice, PolicyReason, VmCard, VmRole, format_hours,
};
use crate::policy_log::{Entry, record};
use crate::{Error, Result, Services, access};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use std::collections::{HashMap, HashSet};

/// The class a student VM belongs to, with its policy.
async fn student_vm_class(
    services: &Services,
    cluster_id: i32,
    vmid: i32,
) -> Result<Option<(class::Model, ClassPolicy, ClassPolicy)>> {
    let Some(row) = class_vm::Entity::find()
        .filter(class_vm::Column::ClusterId.eq(cluster_id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .one(&services.db)
        .await?
    else {
        return Ok(None);
    };
    let Some(class) = class::Entity::find_by_id(row.class_id)
        .one(&services.db)
        .await?
    else {
        return Ok(None);
    };
    let defaults = store::site_defaults(services).await?;
    let policy = store::effective(&class, &defaults);
    Ok(Some((class, policy, defaults)))
}

/// Refuses a start that the class's access hours or the student's quota forbid (with the
/// reason, logged for the teacher). Whoever manages the class is exempt.
pub async fn may_start(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<()> {
    let Some((class, policy, defaults)) = student_vm_class(services, cluster_id, vmid).await?
    else {
        return Ok(());
    };
    if access::may_manage(services, user, &class).await? {
        return Ok(());
    }
    let now = services.clock.now();
    let zone_name = store::zone_name(&policy, &defaults);
    let tz = store::zone(&policy, &defaults);
    let (weekday, minute, _) = calendar::local(now, &tz);
    let refusal = if !policy.hours.is_open(weekday, minute) {
        Some((
            PolicyReason::Hours,
            format!(
                "Your VM can only run during the class's access hours: {} ({zone_name}).",
                policy.hours.to_text().replace('\n', "; ")
            ),
        ))
    } else if policy.quota_hours > 0 {
        let totals = usage::totals(&services.db, &[class.id]).await?;
        let open = usage::open_runs(&services.db, &[class.id]).await?;
        let total = totals.get(&(class.id, user.id));
        let used = usage::used_secs(total, open.get(&(class.id, user.id)), now);
        let allowed = usage::allowed_secs(policy.quota_hours, total);
        (used >= allowed).then(|| {
            (
                PolicyReason::Quota,
                format!(
                    "You have used your {} for this class; ask your teacher for more time.",
                    format_hours(allowed)
                ),
            )
        })
    } else {
        None
    };
    let Some((reason, message)) = refusal else {
        return Ok(());
    };
    record(
        &services.db,
        now,
        Entry {
            class_id: class.id,
            cluster_id,
            vmid: Some(vmid),
            user_id: Some(user.id),
            action: "refused".into(),
            reason: reason.as_str().into(),
            detail: Some("start".into()),
            job_id: None,
        },
    )
    .await?;
    Err(Error::Conflict(message))
}

/// "I'm still here": the idle clock starts again and an idle warning goes away.
pub async fn still_here(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<()> {
    usable_vm(services, user, cluster_id, vmid).await?;
    let now = services.clock.now();
    let Some(state) = vm_policy::Entity::find()
        .filter(vm_policy::Column::ClusterId.eq(cluster_id))
        .filter(vm_policy::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await?
    else {
        return Ok(());
    };
    let mut update = vm_policy::Entity::update_many()
        .col_expr(vm_policy::Column::ActiveAt, Expr::value(now))
        .filter(vm_policy::Column::Id.eq(state.id));
    if state.warn_reason.as_deref() == Some(PolicyReason::Idle.as_str()) {
        update = update
            .col_expr(
                vm_policy::Column::WarnReason,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                vm_policy::Column::WarnAction,
                Expr::value(Option::<String>::None),
            )
            .col_expr(vm_policy::Column::DueAt, Expr::value(Option::<i64>::None));
    } else if state.warn_reason.is_some() {
        return Err(Error::Conflict(
            "Only an idle shutdown can be put off; this one is the class's rule.".into(),
        ));
    }
    update.exec(&services.db).await?;
    record(
        &services.db,
        now,
        Entry {
            class_id: state.class_id,
            cluster_id,
            vmid: Some(vmid),
            user_id: Some(user.id),
            action: "still-here".into(),
            reason: PolicyReason::Idle.as_str().into(),
            detail: None,
            job_id: None,
        },
    )
    .await?;
    bump_for_vms(&services.db, cluster_id, &HashSet::from([vmid])).await
}

/// A console, terminal or SSH tab is open on the VM: it is active, and if `user_id` is its
/// student, connected (a schedule's run starts counting). Called when a tab opens and at
/// every re-check while it lives; a VM outside any class has no row and nothing happens.
pub async fn touch(services: &Services, user_id: i32, cluster_id: i32, vmid: i32) -> Result<()> {
    let now = services.clock.now();
    let student = access::student_of(services, cluster_id, vmid).await? == Some(user_id);
    let mut update = vm_policy::Entity::update_many()
        .col_expr(vm_policy::Column::ActiveAt, Expr::value(now))
        .filter(vm_policy::Column::ClusterId.eq(cluster_id))
        .filter(vm_policy::Column::Vmid.eq(vmid));
    if student {
        update = update.col_expr(vm_policy::Column::ConnectedAt, Expr::value(now));
    }
    update.exec(&services.db).await?;
    Ok(())
}

/// The current warning of one VM (the console and terminal tabs ask it).
pub async fn notice(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<Option<PolicyNotice>> {
    usable_vm(services, user, cluster_id, vmid).await?;
    Ok(vm_policy::Entity::find()
        .filter(vm_policy::Column::ClusterId.eq(cluster_id))
        .filter(vm_policy::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await?
        .and_then(|s| notice_of(&s)))
}

fn notice_of(s: &vm_policy::Model) -> Option<PolicyNotice> {
    Some(PolicyNotice {
        reason: PolicyReason::parse(s.warn_reason.as_deref()?)?,
        action: if s.warn_action.as_deref() == Some("hibernate") {
            PolicyAction::Hibernate
        } else {
            PolicyAction::Shutdown
        },
        due_at: s.due_at?,
    })
}

/// Adds each class VM's warning and its student's hours to the dashboard's cards.
pub async fn annotate(services: &Services, cards: &mut [VmCard]) -> Result<()> {
    if cards.is_empty() {
        return Ok(());
    }
    let mut any = Condition::any();
    for c in cards.iter() {
        any = any.add(
            Condition::all()
                .add(class_vm::Column::ClusterId.eq(c.cluster_id))
                .add(class_vm::Column::Vmid.eq(c.vmid)),
        );
    }
    let rows: HashMap<(i32, i32), class_vm::Model> = class_vm::Entity::find()
        .filter(any)
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|r| ((r.cluster_id, r.vmid), r))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let class_ids: Vec<i32> = rows.values().map(|r| r.class_id).collect();
    let classes: HashMap<i32, class::Model> = class::Entity::find()
        .filter(class::Column::Id.is_in(class_ids.clone()))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut states_any = Condition::any();
    let mut owners_any = Condition::any();
    for (cluster_id, vmid) in rows.keys() {
        states_any = states_any.add(
            Condition::all()
                .add(vm_policy::Column::ClusterId.eq(*cluster_id))
                .add(vm_policy::Column::Vmid.eq(*vmid)),
        );
        owners_any = owners_any.add(
            Condition::all()
                .add(assignment::Column::ClusterId.eq(*cluster_id))
                .add(assignment::Column::Vmid.eq(*vmid)),
        );
    }
    let states: HashMap<(i32, i32), vm_policy::Model> = vm_policy::Entity::find()
        .filter(states_any)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|s| ((s.cluster_id, s.vmid), s))
        .collect();
    let owners: HashMap<(i32, i32), i32> = assignment::Entity::find()
        .filter(owners_any)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|a| ((a.cluster_id, a.vmid), a.user_id))
        .collect();
    let totals = usage::totals(&services.db, &class_ids).await?;
    let open = usage::open_runs(&services.db, &class_ids).await?;
    let defaults = store::site_defaults(services).await?;
    let now = services.clock.now();
    for card in cards.iter_mut() {
        let key = (card.cluster_id, card.vmid);
        let Some(row) = rows.get(&key) else {
            continue;
        };
        let Some(class) = classes.get(&row.class_id) else {
            continue;
        };
        card.notice = states.get(&key).and_then(notice_of);
        let policy = store::effective(class, &defaults);
        let tz = store::zone(&policy, &defaults);
        let (weekday, minute, _) = calendar::local(now, &tz);
        let hours_today = if policy.hours.enabled {
            policy.hours.ranges_on(weekday)
        } else {
            Vec::new()
        };
        if let Some(student) = owners.get(&key) {
            let total = totals.get(&(class.id, *student));
            let run = open.get(&(class.id, *student));
            card.usage = Some(usage::view(
                policy.quota_hours,
                total,
                run,
                now,
                hours_today,
                policy.hours.is_open(weekday, minute),
            ));
        }
    }
    Ok(())
}
