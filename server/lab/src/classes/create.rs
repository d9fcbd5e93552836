//! Launching a class (the intent, written in one transaction), and queuing the jobs that
//! change it later (reset, delete). The work itself is `crate::deploy`'s.

use super::access::{ensure_teacher, managed_class};
use super::plan::{Checked, place};
use super::{BASE_OFFSET, TEACHER_OFFSET};
use crate::clock::now;
use crate::db::entity::{assignment, class, class_vm, user};
use crate::jobs::{cancel_class_jobs, ensure_idle, queue};
use crate::model::{ClassForm, JobKind, VmRole, VmStep};
use crate::node::guest_config::{random_mac, sanitize_vm_name};
use crate::{Error, Result, Services};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, SqlErr, TransactionTrait,
};

/// Checks the plan again and records the class, its VMs and the deploy job; the runner
/// starts at once. Returns the class id.
pub async fn launch(services: &Services, user: &user::Model, form: &ClassForm) -> Result<i32> {
    ensure_teacher(user)?;
    let checked = Checked::from_form(form)?;
    let placement = place(services, user, &checked).await?;
    if let Some(first) = placement.plan.blockers.first() {
        return Err(Error::Invalid(first.clone()));
    }
    let plan = &placement.plan;
    let prefix = sanitize_vm_name(&checked.name, plan.vmid_base as u32);
    let at = now();
    let txn = services.db.begin().await?;
    let inserted = class::ActiveModel {
        name: Set(checked.name.clone()),
        description: Set(checked.description.clone()),
        cluster_id: Set(checked.cluster_id),
        owner_id: Set(user.id),
        template_vmid: Set(checked.template_vmid),
        template_node: Set(placement.template_node.clone()),
        vmid_base: Set(plan.vmid_base),
        students: Set(checked.students as i32),
        cores: Set(checked.cores.map(|v| v as i32)),
        memory_mb: Set(checked.memory_mb.map(|v| v as i32)),
        disk_gb: Set(checked.disk_gb.map(|v| v as i32)),
        pinned_node: Set(checked.pinned_node.clone()),
        storage: Set(plan.storage.clone()),
        method: Set(placement.method),
        invite_token: Set(Some(crate::token::random_token())),
        invite_expires_at: Set(checked.invite_days.map(|d| at + i64::from(d) * 86_400)),
        state: Set("deploying".into()),
        export_paths: Set(String::new()),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let class = match inserted {
        Ok(c) => c,
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(Error::Conflict(
                "Another class took that VMID block a moment ago; review the plan again.".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let count = checked.students as usize + 2;
    let mut vms: Vec<(i32, VmRole, String, String)> = Vec::new();
    for (i, node) in placement.nodes.iter().enumerate().take(count) {
        vms.push(if i == 0 {
            (
                TEACHER_OFFSET,
                VmRole::Teacher,
                format!("{prefix}-teacher"),
                node.clone(),
            )
        } else if i == count - 1 {
            (
                BASE_OFFSET,
                VmRole::Base,
                format!("{prefix}-base"),
                node.clone(),
            )
        } else {
            (
                i as i32,
                VmRole::Student,
                format!("{prefix}-student-{i}"),
                node.clone(),
            )
        });
    }
    // Copies of the base for other nodes take the offsets below the base's (the plan checked
    // that they do not meet the students').
    for (i, node) in placement.copies.iter().enumerate() {
        let offset = BASE_OFFSET - 1 - i as i32;
        vms.push((
            offset,
            VmRole::Base,
            format!("{prefix}-base-{node}"),
            node.clone(),
        ));
    }
    for (offset, role, name, node) in vms {
        let vmid = plan.vmid_base + offset;
        let macs: Vec<String> = (0..placement.nics).map(|_| random_mac()).collect();
        class_vm::ActiveModel {
            class_id: Set(class.id),
            cluster_id: Set(class.cluster_id),
            vmid: Set(vmid),
            role: Set(role),
            name: Set(sanitize_vm_name(&name, vmid as u32)),
            node: Set(node),
            step: Set(VmStep::Queued),
            error: Set(None),
            attempts: Set(0),
            macs: Set(macs.join(",")),
            disks: Set(String::new()),
            started_at: Set(None),
            finished_at: Set(None),
            updated_at: Set(at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    queue(&txn, class.id, JobKind::Deploy, None, Some(user.id)).await?;
    txn.commit().await?;
    services.jobs.wake();
    Ok(class.id)
}

/// Deletes the class: its VMs are destroyed through the API, the export removed, the rows
/// go last (the delete job does it).
pub async fn delete(services: &Services, user: &user::Model, class_id: i32) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    // Its unfinished jobs are asked to stop first (a running deployment stops making VMs);
    // the delete job runs after them (jobs of a class run in order).
    cancel_class_jobs(&services.db, class.id, None).await?;
    let mut row: class::ActiveModel = class.clone().into();
    row.state = Set("deleting".into());
    row.invite_token = Set(None);
    row.update(&services.db).await?;
    queue(&services.db, class.id, JobKind::Delete, None, Some(user.id)).await?;
    services.jobs.wake();
    Ok(())
}

/// Resets a VM of the class to the class baseline (a fresh overlay). The student who was
/// given a student VM may ask for it; any other VM (the teacher's) is the class's to reset,
/// so only whoever manages the class may (an owner demoted to student keeps the teacher VM
/// they were given, not the right to reset it).
pub async fn request_reset(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<()> {
    let not_found = || Error::NotFound(format!("VM {vmid}"));
    let row = class_vm::Entity::find()
        .filter(class_vm::Column::ClusterId.eq(cluster_id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .one(&services.db)
        .await?
        .ok_or_else(not_found)?;
    let class = class::Entity::find_by_id(row.class_id)
        .one(&services.db)
        .await?
        .ok_or_else(not_found)?;
    let uses_it = row.role == VmRole::Student
        && assignment::Entity::find()
            .filter(assignment::Column::UserId.eq(user.id))
            .filter(assignment::Column::ClusterId.eq(cluster_id))
            .filter(assignment::Column::Vmid.eq(vmid))
            .one(&services.db)
            .await?
            .is_some();
    if !uses_it && !super::access::may_manage(services, user, &class).await? {
        return Err(not_found());
    }
    if row.role == VmRole::Base {
        return Err(Error::Invalid(
            "The class base cannot be reset; publish instead.".into(),
        ));
    }
    // A cloned VM whose reset failed is gone; resetting it again makes it anew.
    let retry = class.method.is_clone() && row.step == VmStep::Failed;
    if row.step != VmStep::Ready && !retry {
        return Err(Error::Conflict("This VM is not ready yet.".into()));
    }
    ensure_idle(services, class.id).await?;
    queue(
        &services.db,
        class.id,
        JobKind::Reset,
        Some(vmid),
        Some(user.id),
    )
    .await?;
    services.jobs.wake();
    Ok(())
}

/// Publish: the teacher's VM becomes the class base and every student VM is re-created.
pub async fn publish(services: &Services, user: &user::Model, class_id: i32) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    if class.state != "ready" {
        return Err(Error::Conflict(
            "The class must be fully deployed to publish.".into(),
        ));
    }
    ensure_idle(services, class.id).await?;
    queue(
        &services.db,
        class.id,
        JobKind::Publish,
        None,
        Some(user.id),
    )
    .await?;
    services.jobs.wake();
    Ok(())
}

/// Stops a deployment: VMs not started yet are not made; those made stay (delete the class
/// to remove them).
pub async fn cancel(services: &Services, user: &user::Model, class_id: i32) -> Result<()> {
    let class = managed_class(services, user, class_id).await?;
    cancel_class_jobs(&services.db, class.id, Some(&[JobKind::Deploy])).await?;
    services.jobs.wake();
    Ok(())
}
