//! The teacher's "Policies" section of a class page and the admin's site defaults: reads and
//! changes, each checking who asks (`access::managed_class`; admins for the defaults).

use super::{calendar, schedules, store, usage};
use crate::db::entity::{assignment, class_vm, user};
use crate::model::{
    ClassPolicy, PolicyForm, PolicyPanel, Role, ScheduleForm, StudentUsage, VmRole,
};
use crate::policy_log::{Entry, recent};
use crate::{Error, Result, Services, access};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;

/// Log lines the class page shows.
const LOG_LINES: u64 = 50;

fn ensure_admin(user: &user::Model) -> Result<()> {
    if crate::auth::role_of(user) == Role::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

pub async fn class_panel(
    services: &Services,
    user: &user::Model,
    class_id: i32,
) -> Result<PolicyPanel> {
    let class = access::managed_class(services, user, class_id).await?;
    let defaults = store::site_defaults(services).await?;
    let policy = store::effective(&class, &defaults);
    let zone = store::zone_name(&policy, &defaults);
    let tz = store::zone(&policy, &defaults);
    let now = services.clock.now();
    let (weekday, minute, _) = calendar::local(now, &tz);
    let open_now = policy.hours.is_open(weekday, minute);
    let hours_today = if policy.hours.enabled {
        policy.hours.ranges_on(weekday)
    } else {
        Vec::new()
    };
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .order_by_asc(class_vm::Column::Vmid)
        .all(&services.db)
        .await?;
    let mut owners: HashMap<i32, i32> = HashMap::new();
    for a in assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(class.cluster_id))
        .filter(assignment::Column::Vmid.is_in(rows.iter().map(|r| r.vmid)))
        .all(&services.db)
        .await?
    {
        owners.entry(a.vmid).or_insert(a.user_id);
    }
    let names: HashMap<i32, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(owners.values().copied()))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let totals = usage::totals(&services.db, &[class_id]).await?;
    let open = usage::open_runs(&services.db, &[class_id]).await?;
    let students = rows
        .iter()
        .filter_map(|r| {
            let user_id = *owners.get(&r.vmid)?;
            let total = totals.get(&(class_id, user_id));
            Some(StudentUsage {
                user_id,
                username: names.get(&user_id).cloned().unwrap_or_default(),
                vmid: r.vmid,
                usage: usage::view(
                    policy.quota_hours,
                    total,
                    open.get(&(class_id, user_id)),
                    now,
                    hours_today.clone(),
                    open_now,
                ),
                extra_secs: total.map_or(0, |t| t.extra_secs),
            })
        })
        .collect();
    Ok(PolicyPanel {
        form: PolicyForm::of(&policy),
        site_default: class.policy.is_none(),
        zone,
        open_now,
        schedules: schedules::list(services, class_id, &tz).await?,
        students,
        log: recent(services, class_id, LOG_LINES).await?,
        policy,
    })
}

/// Saves the class's policy from the form, or (`follow_site`) goes back to the defaults.
pub async fn save_class_policy(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    form: &PolicyForm,
    follow_site: bool,
) -> Result<()> {
    access::managed_class(services, user, class_id).await?;
    if follow_site {
        return store::set_class_policy(services, class_id, None).await;
    }
    let policy = form.parse().map_err(Error::Invalid)?;
    store::set_class_policy(services, class_id, Some(&policy)).await
}

pub async fn add_schedule(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    form: &ScheduleForm,
) -> Result<()> {
    let class = access::managed_class(services, user, class_id).await?;
    let defaults = store::site_defaults(services).await?;
    let tz = store::zone(&store::effective(&class, &defaults), &defaults);
    schedules::add(services, class_id, form, &tz).await
}

pub async fn delete_schedule(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    schedule_id: i32,
) -> Result<()> {
    access::managed_class(services, user, class_id).await?;
    schedules::delete(services, class_id, schedule_id).await
}

/// The class's students with a VM (`only`: one of them).
async fn students_of(
    services: &Services,
    class_id: i32,
    cluster_id: i32,
    only: Option<i32>,
) -> Result<Vec<i32>> {
    let vmids: Vec<i32> = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|r| r.vmid)
        .collect();
    let mut users: Vec<i32> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(cluster_id))
        .filter(assignment::Column::Vmid.is_in(vmids))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|a| a.user_id)
        .filter(|u| only.is_none_or(|o| o == *u))
        .collect();
    users.sort_unstable();
    users.dedup();
    if let Some(id) = only
        && users.is_empty()
    {
        return Err(Error::NotFound(format!("Student {id} in this class")));
    }
    Ok(users)
}

/// Adds `hours` to one student's quota, or every student's (`student: None`).
pub async fn add_hours(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    student: Option<i32>,
    hours: u32,
) -> Result<()> {
    let class = access::managed_class(services, user, class_id).await?;
    if !(1..=1000).contains(&hours) {
        return Err(Error::Invalid("Add between 1 and 1000 hours.".into()));
    }
    let now = services.clock.now();
    for id in students_of(services, class_id, class.cluster_id, student).await? {
        usage::add(&services.db, class_id, id, 0, hours as i64 * 3600).await?;
        log_teacher(
            services,
            class.id,
            class.cluster_id,
            id,
            "hours-added",
            &format!("+{hours} h by {}", user.username),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Starts the count again for one student, or every student.
pub async fn reset_usage(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    student: Option<i32>,
) -> Result<()> {
    let class = access::managed_class(services, user, class_id).await?;
    let now = services.clock.now();
    for id in students_of(services, class_id, class.cluster_id, student).await? {
        usage::reset(services, class_id, id, now).await?;
        log_teacher(
            services,
            class.id,
            class.cluster_id,
            id,
            "usage-reset",
            &format!("by {}", user.username),
            now,
        )
        .await?;
    }
    Ok(())
}

async fn log_teacher(
    services: &Services,
    class_id: i32,
    cluster_id: i32,
    student: i32,
    action: &str,
    detail: &str,
    now: i64,
) -> Result<()> {
    crate::policy_log::record(
        &services.db,
        now,
        Entry {
            class_id,
            cluster_id,
            vmid: None,
            user_id: Some(student),
            action: action.into(),
            reason: "quota".into(),
            detail: Some(detail.into()),
            job_id: None,
        },
    )
    .await
}

/// The site's defaults as a form, and the zone they name (or this machine's).
pub async fn site_panel(services: &Services, user: &user::Model) -> Result<(PolicyForm, String)> {
    ensure_admin(user)?;
    let defaults = store::site_defaults(services).await?;
    let zone = store::zone_name(&defaults, &ClassPolicy::default());
    Ok((PolicyForm::of(&defaults), zone))
}

pub async fn save_site_defaults(
    services: &Services,
    user: &user::Model,
    form: &PolicyForm,
) -> Result<()> {
    ensure_admin(user)?;
    let policy = form.parse().map_err(Error::Invalid)?;
    store::set_site_defaults(services, &policy).await
}
