//! A class after launch, from two sides: its teachers edit its name, description and invite
//! expiry; its students read what it is about, who teaches it, their VM and the rules that
//! apply to them (the policies in words, snapshots, SSH).

use crate::access::{managed_class, may_manage};
use crate::clock::now;
use crate::db::entity::{assignment, class, class_owner, class_vm, user};
use crate::model::{
    ClassAbout, ClassEdit, check_class_description, check_class_name, check_invite_days,
};
use crate::{Error, Result, Services, inventory, policies};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::HashSet;

/// Renames the class, changes its description and the current invite link's expiry (the
/// link stays the same). VM names are not changed: they are Proxmox's and may be in use.
pub async fn edit(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    form: &ClassEdit,
) -> Result<()> {
    let c = managed_class(services, user, class_id).await?;
    let name = check_class_name(&form.name).map_err(Error::Invalid)?;
    let description = check_class_description(&form.description).map_err(Error::Invalid)?;
    let days = check_invite_days(&form.invite_days).map_err(Error::Invalid)?;
    let cluster_id = c.cluster_id;
    let mut row: class::ActiveModel = c.into();
    row.name = Set(name);
    row.description = Set(description);
    row.invite_expires_at = Set(days.map(|d| now() + i64::from(d) * 86_400));
    row.update(&services.db).await?;
    // Students' cards name the class.
    inventory::bump_for_class(&services.db, cluster_id, class_id).await
}

/// The class as its students see it: for a student with a VM in it, and for its managers.
pub async fn about(services: &Services, user: &user::Model, class_id: i32) -> Result<ClassAbout> {
    let not_found = || Error::NotFound(format!("Class {class_id}"));
    let c = class::Entity::find_by_id(class_id)
        .one(&services.db)
        .await?
        .ok_or_else(not_found)?;
    let manager = may_manage(services, user, &c).await?;
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(c.id))
        .all(&services.db)
        .await?;
    let mine: HashSet<i32> = assignment::Entity::find()
        .filter(assignment::Column::UserId.eq(user.id))
        .filter(assignment::Column::ClusterId.eq(c.cluster_id))
        .filter(assignment::Column::Vmid.is_in(rows.iter().map(|r| r.vmid)))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|a| a.vmid)
        .collect();
    if mine.is_empty() && !manager {
        return Err(not_found());
    }
    let mut vms: Vec<(i32, i32, String)> = rows
        .iter()
        .filter(|r| mine.contains(&r.vmid))
        .map(|r| (c.cluster_id, r.vmid, r.name.clone()))
        .collect();
    vms.sort();
    let mut teacher_ids = vec![c.owner_id];
    teacher_ids.extend(
        class_owner::Entity::find()
            .filter(class_owner::Column::ClassId.eq(c.id))
            .order_by_asc(class_owner::Column::UserId)
            .all(&services.db)
            .await?
            .into_iter()
            .map(|o| o.user_id),
    );
    let people = user::Entity::find()
        .filter(user::Column::Id.is_in(teacher_ids.clone()))
        .all(&services.db)
        .await?;
    let teachers = teacher_ids
        .iter()
        .filter_map(|id| people.iter().find(|u| u.id == *id))
        .map(|u| {
            if u.display_name.trim().is_empty() {
                u.username.clone()
            } else {
                u.display_name.clone()
            }
        })
        .collect();
    let defaults = policies::store::site_defaults(services).await?;
    let policy = policies::store::effective(&c, &defaults);
    let zone = policies::store::zone_name(&policy, &defaults);
    Ok(ClassAbout {
        id: c.id,
        name: c.name,
        description: c.description,
        teachers,
        vms,
        rules: policy.rules(&zone),
        student_snapshots: c.student_snapshots,
        ssh_enabled: c.ssh_enabled,
        manager,
    })
}
