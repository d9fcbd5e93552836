//! Who is asking about a VM's snapshots, and what they may do.

use crate::access::may_manage;
use crate::db::entity::{assignment, class, class_vm, user, vm};
use crate::model::{VmRole, VmStep};
use crate::{Error, Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

pub(super) struct Viewer {
    pub class: class::Model,
    pub row: class_vm::Model,
    pub vm: vm::Model,
    /// A teacher of the class or an admin.
    pub manager: bool,
}

impl Viewer {
    /// Managers always; the VM's student when the class allows snapshots.
    pub fn may_change(&self) -> bool {
        self.manager || self.class.student_snapshots > 0
    }

    pub fn ensure_may_change(&self) -> Result<()> {
        if self.may_change() {
            Ok(())
        } else {
            Err(Error::Invalid(
                "Your teacher has not allowed snapshots in this class.".into(),
            ))
        }
    }

    /// Changes wait until the VM is made.
    pub fn ensure_ready(&self) -> Result<()> {
        if self.row.step == VmStep::Ready {
            Ok(())
        } else {
            Err(Error::Conflict("This VM is not ready yet.".into()))
        }
    }
}

/// The class VM `vmid` of `cluster_id`, if `user` may see its snapshots.
pub(super) async fn viewer(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<Viewer> {
    let not_found = || Error::NotFound(format!("VM {vmid}"));
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClusterId.eq(cluster_id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .filter(class_vm::Column::Role.ne(VmRole::Base))
        .all(&services.db)
        .await?;
    for row in rows {
        let Some(class) = class::Entity::find_by_id(row.class_id)
            .one(&services.db)
            .await?
            .filter(|c| c.cluster_id == cluster_id)
        else {
            continue;
        };
        let manager = may_manage(services, user, &class).await?;
        let student = !manager
            && row.role == VmRole::Student
            && assignment::Entity::find()
                .filter(assignment::Column::UserId.eq(user.id))
                .filter(assignment::Column::ClusterId.eq(cluster_id))
                .filter(assignment::Column::Vmid.eq(vmid))
                .one(&services.db)
                .await?
                .is_some();
        if !manager && !student {
            continue;
        }
        let vm = vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(cluster_id))
            .filter(vm::Column::Vmid.eq(vmid))
            .one(&services.db)
            .await?
            .ok_or_else(not_found)?;
        return Ok(Viewer {
            class,
            row,
            vm,
            manager,
        });
    }
    Err(not_found())
}
