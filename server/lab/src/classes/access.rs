//! Who may see and manage a class: its owner, its co-owners and admins. Anyone else gets
//! "not found", so class ids cannot be probed.

use crate::db::entity::{class, class_owner, user};
use crate::model::Role;
use crate::{Error, Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

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

pub async fn may_manage(
    services: &Services,
    user: &user::Model,
    class: &class::Model,
) -> Result<bool> {
    if role(user) == Role::Admin || class.owner_id == user.id {
        return Ok(true);
    }
    if role(user) != Role::Teacher {
        return Ok(false);
    }
    Ok(class_owner::Entity::find()
        .filter(class_owner::Column::ClassId.eq(class.id))
        .filter(class_owner::Column::UserId.eq(user.id))
        .one(&services.db)
        .await?
        .is_some())
}

/// Does `user` manage the class that owns VM `vmid` (teachers may use their students' VMs)?
pub async fn manages_vm(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<bool> {
    if role(user) == Role::Student {
        return Ok(false);
    }
    let block = vmid - vmid.rem_euclid(100);
    let Some(class) = class::Entity::find()
        .filter(class::Column::ClusterId.eq(cluster_id))
        .filter(class::Column::VmidBase.eq(block))
        .one(&services.db)
        .await?
    else {
        return Ok(false);
    };
    may_manage(services, user, &class).await
}
