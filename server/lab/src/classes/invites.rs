//! Invites: a random token (256 bits, URL-safe) per class that students follow to join;
//! it can expire, be revoked, or be regenerated (the old link stops working at once).
//! Joining assigns the first ready student VM nobody has; when there is none, the student
//! can wait for one (`crate::waitlist`).

use crate::access::managed_class;
use crate::clock::now;
use crate::db::entity::{assignment, class, user};
use crate::model::JoinView;
use crate::{Error, Result, Services, waitlist};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

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
    let queue = waitlist::queue(&services.db, c.id).await?;
    let free = waitlist::free_student_vms(&services.db, &c).await?.len();
    Ok(JoinView {
        class_name: c.name.clone(),
        teacher,
        // Free VMs go to those waiting first.
        free_vms: free.saturating_sub(queue.len()) as u32,
        already_joined: joined_vm(services, user, &c).await?.is_some(),
        deploying: c.state == "deploying",
        waiting: queue.len() as u32,
        place: queue
            .iter()
            .position(|w| w.user_id == user.id)
            .map(|i| i as u32 + 1),
    })
}

/// Gives `user` a VM of the invited class; returns `(cluster_id, vmid)`. Joining twice
/// returns the VM already given. Those on the waiting list get free VMs first.
pub async fn join(services: &Services, user: &user::Model, token: &str) -> Result<(i32, i32)> {
    let c = invited_class(services, token).await?;
    waitlist::fill(services, c.id).await?;
    if let Some(vmid) = joined_vm(services, user, &c).await? {
        return Ok((c.cluster_id, vmid));
    }
    if let Some(vmid) = waitlist::claim(services, &c, user.id).await? {
        return Ok((c.cluster_id, vmid));
    }
    Err(Error::Conflict(if c.state == "deploying" {
        "The class's VMs are still being made; try again in a minute.".into()
    } else {
        "This class is full: every VM has a student. Join the waiting list to get the next \
         free VM."
            .into()
    }))
}

/// Puts `user` on the invited class's waiting list (a full class); returns their place, or
/// `None` when a VM was free after all and is now theirs.
pub async fn wait(services: &Services, user: &user::Model, token: &str) -> Result<Option<u32>> {
    let c = invited_class(services, token).await?;
    if joined_vm(services, user, &c).await?.is_some() {
        return Err(Error::Conflict(
            "You already have a VM in this class.".into(),
        ));
    }
    let place = waitlist::enqueue(services, c.id, user.id).await?;
    // A VM may have become free meanwhile: hand it out in order (maybe to this student).
    waitlist::fill(services, c.id).await?;
    if joined_vm(services, user, &c).await?.is_some() {
        return Ok(None);
    }
    Ok(waitlist::position(&services.db, c.id, user.id)
        .await?
        .or(Some(place)))
}
