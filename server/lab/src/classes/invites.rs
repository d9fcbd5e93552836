//! Invites: a random token (256 bits, URL-safe) per class that students follow to join;
//! it can expire, be revoked, or be regenerated (the old link stops working at once).
//! Joining assigns the first ready student VM nobody has.

use crate::access::managed_class;
use crate::clock::now;
use crate::db::entity::{assignment, class, class_vm, user};
use crate::model::JoinView;
use crate::model::{VmRole, VmStep};
use crate::{Error, Result, Services, inventory};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, ModelTrait, QueryFilter, QueryOrder, Set,
};

/// A new invite link (the old one stops working); `days`: expiry, `None` never.
pub async fn regenerate_invite(
    services: &Services,
    user: &user::Model,
    class_id: i32,
    days: Option<u32>,
) -> Result<String> {
    let c = managed_class(services, user, class_id).await?;
    if days.is_some_and(|d| !(1..=365).contains(&d)) {
        return Err(Error::Invalid(
            "Invite expiry: 1 to 365 days, or never.".into(),
        ));
    }
    let token = crate::token::random_token();
    let mut row: class::ActiveModel = c.into();
    row.invite_token = Set(Some(token.clone()));
    row.invite_expires_at = Set(days.map(|d| now() + i64::from(d) * 86_400));
    row.update(&services.db).await?;
    Ok(token)
}

pub async fn revoke_invite(services: &Services, user: &user::Model, class_id: i32) -> Result<()> {
    let c = managed_class(services, user, class_id).await?;
    let mut row: class::ActiveModel = c.into();
    row.invite_token = Set(None);
    row.update(&services.db).await?;
    Ok(())
}

/// The class behind a valid invite. Unknown, revoked and expired tokens get one message.
async fn invited_class(services: &Services, token: &str) -> Result<class::Model> {
    let gone = || Error::Invalid("This invite link is invalid, revoked or expired.".into());
    if token.len() != 43 {
        return Err(gone());
    }
    let c = class::Entity::find()
        .filter(class::Column::InviteToken.eq(token))
        .one(&services.db)
        .await?
        .ok_or_else(gone)?;
    if c.invite_expires_at.is_some_and(|t| t < now()) || c.state == "deleting" {
        return Err(gone());
    }
    Ok(c)
}

async fn free_student_vms(services: &Services, c: &class::Model) -> Result<Vec<i32>> {
    let taken: Vec<i32> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(c.cluster_id))
        .filter(assignment::Column::Vmid.between(c.vmid_base + 1, c.vmid_base + 98))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|a| a.vmid)
        .collect();
    Ok(class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(c.id))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .filter(class_vm::Column::Step.eq(VmStep::Ready))
        .order_by_asc(class_vm::Column::Vmid)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|r| r.vmid)
        .filter(|v| !taken.contains(v))
        .collect())
}

async fn joined_vm(
    services: &Services,
    user: &user::Model,
    c: &class::Model,
) -> Result<Option<i32>> {
    Ok(assignment::Entity::find()
        .filter(assignment::Column::UserId.eq(user.id))
        .filter(assignment::Column::ClusterId.eq(c.cluster_id))
        .filter(assignment::Column::Vmid.between(c.vmid_base, c.vmid_base + 99))
        .one(&services.db)
        .await?
        .map(|a| a.vmid))
}

pub async fn join_view(services: &Services, user: &user::Model, token: &str) -> Result<JoinView> {
    let c = invited_class(services, token).await?;
    let teacher = user::Entity::find_by_id(c.owner_id)
        .one(&services.db)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default();
    Ok(JoinView {
        class_name: c.name.clone(),
        teacher,
        free_vms: free_student_vms(services, &c).await?.len() as u32,
        already_joined: joined_vm(services, user, &c).await?.is_some(),
        deploying: c.state == "deploying",
    })
}

/// Gives `user` a VM of the invited class; returns `(cluster_id, vmid)`. Joining twice
/// returns the VM already given.
pub async fn join(services: &Services, user: &user::Model, token: &str) -> Result<(i32, i32)> {
    let c = invited_class(services, token).await?;
    if let Some(vmid) = joined_vm(services, user, &c).await? {
        return Ok((c.cluster_id, vmid));
    }
    for vmid in free_student_vms(services, &c).await? {
        let mine = assignment::ActiveModel {
            user_id: Set(user.id),
            cluster_id: Set(c.cluster_id),
            vmid: Set(vmid),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&services.db)
        .await?;
        // Two students may pick the same VM at once (on any instance): the earliest row
        // wins and the other tries the next VM.
        let first = assignment::Entity::find()
            .filter(assignment::Column::ClusterId.eq(c.cluster_id))
            .filter(assignment::Column::Vmid.eq(vmid))
            .order_by_asc(assignment::Column::Id)
            .one(&services.db)
            .await?;
        if first.is_some_and(|f| f.id == mine.id) {
            inventory::bump(
                &services.db,
                [inventory::user_key(user.id), "all".to_owned()],
            )
            .await?;
            return Ok((c.cluster_id, vmid));
        }
        mine.delete(&services.db).await?;
    }
    Err(Error::Conflict(if c.state == "deploying" {
        "The class's VMs are still being made; try again in a minute.".into()
    } else {
        "This class is full: every VM has a student. Ask your teacher to add VMs.".into()
    }))
}
