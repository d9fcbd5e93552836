//! Which templates a teacher may build a class from.
//!
//! A class's base (`P99`) is a Proxmox template too, and a full copy of what its teacher
//! published: it belongs to its class, not to the cluster. The rule:
//! - **Admins** are offered every QEMU template of every enabled cluster.
//! - **Teachers** are offered the cluster's own templates, meaning those that are no class's
//!   VM (no `class_vms` row names them, whatever its role: base, teacher or student), plus
//!   the class bases of the classes they manage (owner or co-owner), so that a teacher can
//!   start next term's class from this term's.
//!
//! The wizard's list applies it ([`templates`]), and so do plan and launch
//! ([`ensure_offered`]): a hand-made request naming another teacher's class base is refused
//! as "not found", before any Proxmox call.

use crate::access::{ensure_teacher, managed_ids};
use crate::db::entity::{class_vm, cluster, user, vm};
use crate::model::TemplateChoice;
use crate::model::VmRole;
use crate::{Error, Result, Services};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{HashMap, HashSet};

/// May `user` build from `rows`, the `class_vms` rows that name one template? `managed`:
/// the classes they manage, `None` for all (admins).
fn offered(rows: &[&class_vm::Model], managed: Option<&HashSet<i32>>) -> bool {
    let Some(managed) = managed else {
        return true;
    };
    rows.is_empty()
        || rows
            .iter()
            .any(|r| r.role == VmRole::Base && managed.contains(&r.class_id))
}

/// The templates `user` may build a class from, on every enabled cluster, from the inventory
/// (no Proxmox call).
pub async fn templates(services: &Services, user: &user::Model) -> Result<Vec<TemplateChoice>> {
    ensure_teacher(user)?;
    let clusters: HashMap<i32, String> = cluster::Entity::find()
        .filter(cluster::Column::Enabled.eq(true))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let rows = vm::Entity::find()
        .filter(vm::Column::Template.eq(true))
        .filter(vm::Column::Kind.eq("qemu"))
        .order_by_asc(vm::Column::Name)
        .all(&services.db)
        .await?;
    let class_rows = class_vm::Entity::find()
        .filter(class_vm::Column::Vmid.is_in(rows.iter().map(|r| r.vmid)))
        .all(&services.db)
        .await?;
    let managed = managed_ids(services, user).await?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            let named: Vec<&class_vm::Model> = class_rows
                .iter()
                .filter(|c| c.cluster_id == r.cluster_id && c.vmid == r.vmid)
                .collect();
            offered(&named, managed.as_ref())
        })
        .filter_map(|r| {
            Some(TemplateChoice {
                cluster: clusters.get(&r.cluster_id)?.clone(),
                cluster_id: r.cluster_id,
                vmid: r.vmid,
                name: r.name,
                node: r.node,
                cores: r.cpus,
                memory: r.max_mem,
                disk: r.max_disk,
                os_type: r.os_type,
                firmware: r.firmware,
                storage: r.disk_storage,
            })
        })
        .collect())
}

/// Refuses, as "not found", a template the rule does not offer `user`. Whether it is a
/// template at all is the plan's question (it asks Proxmox).
pub(crate) async fn ensure_offered(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<()> {
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClusterId.eq(cluster_id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .all(&services.db)
        .await?;
    let managed = managed_ids(services, user).await?;
    if offered(&rows.iter().collect::<Vec<_>>(), managed.as_ref()) {
        Ok(())
    } else {
        Err(Error::NotFound(format!("Template {vmid}")))
    }
}
