//! Waiting lists: a student who opens the invite of a full class joins its queue and gets
//! the next student VM that becomes free (a teacher takes one back) or is added (a deploy
//! job ends), first come first served. The teacher sees the queue on the class page and can
//! add VMs for it in one click.
//!
//! [`fill`] hands out free VMs to the queue. It runs wherever a VM can become free: a join
//! (so a newcomer never gets a VM ahead of those waiting), a teacher's unassign, an admin's
//! (on the dashboard, [`vms_freed`]), the end of a deploy job. Handing out is the same claim as joining ([`claim`]): the earliest assignment
//! row of a VM wins, so two instances filling at once never give one VM twice.
//!
//! Below `classes` and `jobs` (both call it); it reads and writes rows only.

use crate::clock::now;
use crate::db::entity::{assignment, class, class_vm, user, waitlist};
use crate::model::{VmRole, VmStep};
use crate::{Error, Result, Services, inventory};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder, Set,
};

/// Ready student VMs of the class that nobody has, lowest VMID first.
pub(crate) async fn free_student_vms(
    db: &impl ConnectionTrait,
    c: &class::Model,
) -> Result<Vec<i32>> {
    let taken: Vec<i32> = assignment::Entity::find()
        .filter(assignment::Column::ClusterId.eq(c.cluster_id))
        .filter(assignment::Column::Vmid.between(c.vmid_base + 1, c.vmid_base + 98))
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.vmid)
        .collect();
    Ok(class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(c.id))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .filter(class_vm::Column::Step.eq(VmStep::Ready))
        .order_by_asc(class_vm::Column::Vmid)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.vmid)
        .filter(|v| !taken.contains(v))
        .collect())
}

/// Gives `user_id` the first free student VM of the class, if any; returns its VMID.
pub(crate) async fn claim(
    services: &Services,
    c: &class::Model,
    user_id: i32,
) -> Result<Option<i32>> {
    for vmid in free_student_vms(&services.db, c).await? {
        let mine = assignment::ActiveModel {
            user_id: Set(user_id),
            cluster_id: Set(c.cluster_id),
            vmid: Set(vmid),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&services.db)
        .await?;
        // Two claims may pick the same VM at once (on any instance): the earliest row wins
        // and the other tries the next VM.
        let first = assignment::Entity::find()
            .filter(assignment::Column::ClusterId.eq(c.cluster_id))
            .filter(assignment::Column::Vmid.eq(vmid))
            .order_by_asc(assignment::Column::Id)
            .one(&services.db)
            .await?;
        if first.is_some_and(|f| f.id == mine.id) {
            inventory::bump(
                &services.db,
                [inventory::user_key(user_id), "all".to_owned()],
            )
            .await?;
            return Ok(Some(vmid));
        }
        mine.delete(&services.db).await?;
    }
    Ok(None)
}

/// Hands free VMs of the class to the queue, in order; returns (user, VMID) for each.
pub async fn fill(services: &Services, class_id: i32) -> Result<Vec<(i32, i32)>> {
    let Some(c) = class::Entity::find_by_id(class_id)
        .one(&services.db)
        .await?
    else {
        return Ok(Vec::new());
    };
    let mut given = Vec::new();
    for w in queue(&services.db, class_id).await? {
        match claim(services, &c, w.user_id).await? {
            Some(vmid) => {
                let user_id = w.user_id;
                w.delete(&services.db).await?;
                given.push((user_id, vmid));
            }
            None => break,
        }
    }
    Ok(given)
}

/// VMs an admin took back on the dashboard (`inventory::unassign`, bulk or one): the queues
/// of the classes whose student VMs they are get them, as after a teacher's unassign.
/// Returns (user, VMID) for each VM handed out.
pub async fn vms_freed(
    services: &Services,
    cluster_id: i32,
    vmids: &[i32],
) -> Result<Vec<(i32, i32)>> {
    let classes: std::collections::BTreeSet<i32> = class_vm::Entity::find()
        .filter(class_vm::Column::ClusterId.eq(cluster_id))
        .filter(class_vm::Column::Vmid.is_in(vmids.iter().copied()))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|v| v.class_id)
        .collect();
    let mut given = Vec::new();
    for class_id in classes {
        given.extend(fill(services, class_id).await?);
    }
    Ok(given)
}

/// The class's queue, first first.
pub async fn queue(db: &impl ConnectionTrait, class_id: i32) -> Result<Vec<waitlist::Model>> {
    Ok(waitlist::Entity::find()
        .filter(waitlist::Column::ClassId.eq(class_id))
        .order_by_asc(waitlist::Column::Id)
        .all(db)
        .await?)
}

/// `user_id`'s place in the class's queue (1 = next), if they wait.
pub async fn position(
    db: &impl ConnectionTrait,
    class_id: i32,
    user_id: i32,
) -> Result<Option<u32>> {
    Ok(queue(db, class_id)
        .await?
        .iter()
        .position(|w| w.user_id == user_id)
        .map(|i| i as u32 + 1))
}

/// Puts `user_id` at the end of the class's queue (where they are, if they wait already);
/// returns their place.
pub(crate) async fn enqueue(services: &Services, class_id: i32, user_id: i32) -> Result<u32> {
    waitlist::Entity::insert(waitlist::ActiveModel {
        class_id: Set(class_id),
        user_id: Set(user_id),
        created_at: Set(now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([waitlist::Column::ClassId, waitlist::Column::UserId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&services.db)
    .await?;
    inventory::bump(&services.db, [inventory::user_key(user_id)]).await?;
    position(&services.db, class_id, user_id)
        .await?
        .ok_or_else(|| Error::Internal("the queued row is gone".into()))
}

/// `user` leaves the class's queue (nothing happens if they were not in it).
pub async fn leave(services: &Services, user: &user::Model, class_id: i32) -> Result<()> {
    waitlist::Entity::delete_many()
        .filter(waitlist::Column::ClassId.eq(class_id))
        .filter(waitlist::Column::UserId.eq(user.id))
        .exec(&services.db)
        .await?;
    inventory::bump(&services.db, [inventory::user_key(user.id)]).await
}

/// The queues `user_id` is in: (class id, class name, place).
pub async fn places(services: &Services, user_id: i32) -> Result<Vec<(i32, String, u32)>> {
    let mine = waitlist::Entity::find()
        .filter(waitlist::Column::UserId.eq(user_id))
        .order_by_asc(waitlist::Column::Id)
        .all(&services.db)
        .await?;
    let mut out = Vec::with_capacity(mine.len());
    for w in mine {
        let Some(c) = class::Entity::find_by_id(w.class_id)
            .one(&services.db)
            .await?
        else {
            continue;
        };
        if let Some(place) = position(&services.db, w.class_id, user_id).await? {
            out.push((c.id, c.name, place));
        }
    }
    Ok(out)
}

/// Drops the class's queue (the class is being deleted).
pub(crate) async fn forget_class(db: &impl ConnectionTrait, class_id: i32) -> Result<()> {
    waitlist::Entity::delete_many()
        .filter(waitlist::Column::ClassId.eq(class_id))
        .exec(db)
        .await?;
    Ok(())
}
