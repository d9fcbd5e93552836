//! The classes list and the class page: roster, per-VM deployment step and the overall
//! progress, all from the database.

use super::access::{managed_class, managed_ids, role};
use crate::clock::now;
use crate::db::entity::{assignment, class, class_owner, class_vm, job, user, vm};
use crate::inventory::state_of;
use crate::model::{ClassDetail, ClassSummary, ClassVmView, DeployProgress};
use crate::model::{JobState, Role, VmRole, VmStep};
use crate::{Result, Services};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{HashMap, HashSet};

async fn usernames(
    services: &Services,
    ids: impl IntoIterator<Item = i32>,
) -> Result<HashMap<i32, String>> {
    let ids: Vec<i32> = ids.into_iter().collect();
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect())
}

/// Classes `user` manages (admins: all); for students, the classes they joined.
pub async fn list(services: &Services, user: &user::Model) -> Result<Vec<ClassSummary>> {
    let all = class::Entity::find()
        .order_by_asc(class::Column::Name)
        .all(&services.db)
        .await?;
    let visible: Vec<class::Model> = match role(user) {
        Role::Admin => all,
        Role::Teacher => {
            let managed = managed_ids(services, user).await?.unwrap_or_default();
            all.into_iter()
                .filter(|c| managed.contains(&c.id))
                .collect()
        }
        Role::Student => {
            let joined = joined_ids(services, user).await?;
            all.into_iter().filter(|c| joined.contains(&c.id)).collect()
        }
    };
    let owners = usernames(services, visible.iter().map(|c| c.owner_id)).await?;
    let mut out = Vec::with_capacity(visible.len());
    for c in visible {
        let enrolled = enrolled_count(services, &c).await?;
        out.push(summary(&c, &owners, enrolled, services).await?);
    }
    Ok(out)
}

/// The classes whose VMs (their `class_vms` rows) `user` was given.
async fn joined_ids(services: &Services, user: &user::Model) -> Result<HashSet<i32>> {
    let mine = assignment::Entity::find()
        .filter(assignment::Column::UserId.eq(user.id))
        .all(&services.db)
        .await?;
    if mine.is_empty() {
        return Ok(HashSet::new());
    }
    let mut any = Condition::any();
    for a in &mine {
        any = any.add(
            Condition::all()
                .add(class_vm::Column::ClusterId.eq(a.cluster_id))
                .add(class_vm::Column::Vmid.eq(a.vmid)),
        );
    }
    Ok(class_vm::Entity::find()
        .filter(any)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|r| r.class_id)
        .collect())
}

async fn enrolled_count(services: &Services, c: &class::Model) -> Result<i32> {
    Ok(assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(c.cluster_id))
        .filter(assignment::Column::Vmid.between(c.vmid_base + 1, c.vmid_base + 98))
        .all(&services.db)
        .await?
        .len() as i32)
}

async fn summary(
    c: &class::Model,
    owners: &HashMap<i32, String>,
    enrolled: i32,
    services: &Services,
) -> Result<ClassSummary> {
    let template = match c.template_vmid {
        Some(t) => vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(c.cluster_id))
            .filter(vm::Column::Vmid.eq(t))
            .one(&services.db)
            .await?
            .map(|v| v.name)
            .or(Some(format!("VM {t}"))),
        None => None,
    };
    Ok(ClassSummary {
        id: c.id,
        name: c.name.clone(),
        description: c.description.clone(),
        owner: owners.get(&c.owner_id).cloned().unwrap_or_default(),
        template,
        vmid_base: c.vmid_base,
        students: c.students,
        enrolled,
        state: c.state.clone(),
    })
}

/// The class page, for those who manage the class.
pub async fn detail(services: &Services, user: &user::Model, id: i32) -> Result<ClassDetail> {
    let c = managed_class(services, user, id).await?;
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(c.id))
        .order_by_asc(class_vm::Column::Vmid)
        .all(&services.db)
        .await?;
    let vmids: Vec<i32> = rows.iter().map(|r| r.vmid).collect();
    let inventory: HashMap<i32, vm::Model> = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(c.cluster_id))
        .filter(vm::Column::Vmid.is_in(vmids.clone()))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|v| (v.vmid, v))
        .collect();
    let assigned: Vec<assignment::Model> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(c.cluster_id))
        .filter(assignment::Column::Vmid.is_in(vmids))
        .all(&services.db)
        .await?;
    let co: Vec<i32> = class_owner::Entity::find()
        .filter(class_owner::Column::ClassId.eq(c.id))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|o| o.user_id)
        .collect();
    let names = usernames(
        services,
        assigned
            .iter()
            .map(|a| a.user_id)
            .chain(co.iter().copied())
            .chain([c.owner_id]),
    )
    .await?;
    let at = now();
    let vms: Vec<ClassVmView> = rows
        .iter()
        .map(|r| {
            let inv = inventory.get(&r.vmid);
            ClassVmView {
                vmid: r.vmid,
                role: r.role,
                name: r.name.clone(),
                node: inv.map_or(r.node.clone(), |v| v.node.clone()),
                step: r.step,
                error: r.error.clone(),
                student: assigned
                    .iter()
                    .find(|a| a.vmid == r.vmid && r.role == VmRole::Student)
                    .and_then(|a| names.get(&a.user_id).cloned()),
                state: inv.map(|v| state_of(v, at)),
                ip: inv.and_then(|v| v.ip.clone()),
            }
        })
        .collect();
    let progress = progress(services, &c, &rows, at).await?;
    let enrolled = vms.iter().filter(|v| v.student.is_some()).count() as i32;
    Ok(ClassDetail {
        summary: summary(&c, &names, enrolled, services).await?,
        cluster_id: c.cluster_id,
        invite_token: c.invite_token.clone(),
        invite_expires_at: c.invite_expires_at,
        co_owners: co.iter().filter_map(|id| names.get(id).cloned()).collect(),
        vms,
        progress,
        now: at,
        ssh_enabled: c.ssh_enabled,
        student_snapshots: c.student_snapshots,
        invite_days_left: c
            .invite_expires_at
            .map(|t| ((t - at).max(0) + 86_399) / 86_400),
        waiting: waiting(services, c.id).await?,
        strays: super::strays(services, &c).await?,
    })
}

/// Overall progress from the rows: finished steps, and the time left from the average time
/// a VM has taken so far.
async fn progress(
    services: &Services,
    c: &class::Model,
    rows: &[class_vm::Model],
    at: i64,
) -> Result<DeployProgress> {
    let active = job::Entity::find()
        .filter(job::Column::ClassId.eq(c.id))
        .filter(job::Column::State.is_in(JobState::ACTIVE))
        .order_by_asc(job::Column::Id)
        .one(&services.db)
        .await?;
    let last_failed = job::Entity::find()
        .filter(job::Column::ClassId.eq(c.id))
        .filter(job::Column::State.eq(JobState::Failed))
        .order_by_desc(job::Column::Id)
        .one(&services.db)
        .await?;
    let total = rows.len() as u32;
    let done = rows.iter().filter(|r| r.step == VmStep::Ready).count() as u32;
    let failed = rows
        .iter()
        .filter(|r| matches!(r.step, VmStep::Failed | VmStep::Cancelled))
        .count() as u32;
    let durations: Vec<i64> = rows
        .iter()
        .filter_map(|r| Some(r.finished_at? - r.started_at?))
        .collect();
    let first_start = rows.iter().filter_map(|r| r.started_at).min();
    let eta_secs = match (active.as_ref(), first_start) {
        (Some(_), Some(start)) if done > 0 && !durations.is_empty() => {
            // Throughput so far (VMs per second of wall time) covers the concurrency.
            let elapsed = (at - start).max(1);
            let left = i64::from(total - done - failed);
            Some(left * elapsed / i64::from(done))
        }
        _ => None,
    };
    Ok(DeployProgress {
        total,
        done,
        failed,
        active: active.is_some(),
        job: active.map(|j| j.kind),
        eta_secs,
        last_error: last_failed.and_then(|j| j.error),
    })
}

/// The class's waiting list for its teachers: (username, display name, since).
async fn waiting(services: &Services, class_id: i32) -> Result<Vec<(String, String, i64)>> {
    use crate::db::entity::user;
    let queue = crate::waitlist::queue(&services.db, class_id).await?;
    if queue.is_empty() {
        return Ok(Vec::new());
    }
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(queue.iter().map(|w| w.user_id)))
        .all(&services.db)
        .await?;
    Ok(queue
        .iter()
        .filter_map(|w| {
            users
                .iter()
                .find(|u| u.id == w.user_id)
                .map(|u| (u.username.clone(), u.display_name.clone(), w.created_at))
        })
        .collect())
}
