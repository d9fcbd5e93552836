//! Who may see and manage a class: its owner, its co-owners and admins. Anyone else gets
//! "not found", so class ids cannot be probed.
//!
//! Two rules hold everywhere a class is managed (the class page, reset, roster changes,
//! invites, publish, delete, and using its VMs):
//! - **The role comes first.** Owning a class, or being its co-owner, counts only while the
//!   user is a teacher: an owner demoted to student manages nothing (admins manage all).
//! - **A class's VMs are its `class_vms` rows**, never "whatever lies in its VMID block": a
//!   VM an admin made by hand at a free VMID of the block is not the class's.
//!
//! Below both `classes` and `inventory`: the class modules ask it who manages a class,
//! `inventory::usable_vm` which class VMs a teacher may use.

use crate::db::entity::{class, class_owner, class_vm, cluster, user};
use crate::model::Role;
use crate::{Error, Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashSet;

pub(crate) fn role(user: &user::Model) -> Role {
    crate::auth::role_of(user)
}

/// Teachers and admins create classes; students cannot.
pub fn ensure_teacher(user: &user::Model) -> Result<()> {
    match role(user) {
        Role::Admin | Role::Teacher => Ok(()),
        Role::Student => Err(Error::Forbidden),
    }
}

/// The class, if `user` manages it.
pub async fn managed_class(
    services: &Services,
    user: &user::Model,
    id: i32,
) -> Result<class::Model> {
    let not_found = || Error::NotFound(format!("Class {id}"));
    let class = class::Entity::find_by_id(id)
        .one(&services.db)
        .await?
        .ok_or_else(not_found)?;
    if may_manage(services, user, &class).await? {
        Ok(class)
    } else {
        Err(not_found())
    }
}

/// Admins manage every class; teachers the classes they own or co-own; students none, even
/// a class they owned before they were demoted.
pub async fn may_manage(
    services: &Services,
    user: &user::Model,
    class: &class::Model,
) -> Result<bool> {
    match role(user) {
        Role::Admin => Ok(true),
        Role::Student => Ok(false),
        Role::Teacher if class.owner_id == user.id => Ok(true),
        Role::Teacher => Ok(class_owner::Entity::find()
            .filter(class_owner::Column::ClassId.eq(class.id))
            .filter(class_owner::Column::UserId.eq(user.id))
            .one(&services.db)
            .await?
            .is_some()),
    }
}

/// The ids of the classes `user` manages; `None` means all of them (admins).
pub(crate) async fn managed_ids(
    services: &Services,
    user: &user::Model,
) -> Result<Option<HashSet<i32>>> {
    match role(user) {
        Role::Admin => Ok(None),
        Role::Student => Ok(Some(HashSet::new())),
        Role::Teacher => {
            let mut ids: HashSet<i32> = class::Entity::find()
                .filter(class::Column::OwnerId.eq(user.id))
                .all(&services.db)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            ids.extend(
                class_owner::Entity::find()
                    .filter(class_owner::Column::UserId.eq(user.id))
                    .all(&services.db)
                    .await?
                    .into_iter()
                    .map(|o| o.class_id),
            );
            Ok(Some(ids))
        }
    }
}

/// Is VM `vmid` of `cluster_id` one of the class VMs `user` manages (teachers may use their
/// students' VMs)? Only a `class_vms` row makes a VM a class's.
pub async fn manages_vm(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<bool> {
    if role(user) == Role::Student {
        return Ok(false);
    }
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClusterId.eq(cluster_id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .all(&services.db)
        .await?;
    for row in rows {
        let Some(class) = class::Entity::find_by_id(row.class_id)
            .one(&services.db)
            .await?
        else {
            continue;
        };
        if class.cluster_id == cluster_id && may_manage(services, user, &class).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The student a VM is assigned to (the first assignment, if several).
pub async fn student_of(services: &Services, cluster_id: i32, vmid: i32) -> Result<Option<i32>> {
    use crate::db::entity::assignment;
    use sea_orm::QueryOrder;
    Ok(assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(cluster_id))
        .filter(assignment::Column::Vmid.eq(vmid))
        .order_by_asc(assignment::Column::Id)
        .one(&services.db)
        .await?
        .map(|a| a.user_id))
}

/// The clusters on which `user` may manage ISOs and build VMs: every enabled one for admins,
/// those whose settings allow it (`teachers_build`) for teachers, none for students.
pub async fn buildable_clusters(
    services: &Services,
    user: &user::Model,
) -> Result<Vec<cluster::Model>> {
    let mut query = cluster::Entity::find().filter(cluster::Column::Enabled.eq(true));
    match role(user) {
        Role::Admin => {}
        Role::Teacher => query = query.filter(cluster::Column::TeachersBuild.eq(true)),
        Role::Student => return Err(Error::Forbidden),
    }
    Ok(query.all(&services.db).await?)
}

/// The cluster, if `user` may manage ISOs and build VMs on it; else "not found".
pub async fn buildable_cluster(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
) -> Result<cluster::Model> {
    buildable_clusters(services, user)
        .await?
        .into_iter()
        .find(|c| c.id == cluster_id)
        .ok_or_else(|| Error::NotFound(format!("Cluster {cluster_id}")))
}
