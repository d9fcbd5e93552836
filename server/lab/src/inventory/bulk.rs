//! Admins map VMs to users (or take them back) in bulk, from pasted `VMID username` lines:
//! every line is checked first (the user exists, the VM is in the cluster's inventory and is
//! not a template), then all are written in one transaction, so a bad line changes nothing.

use super::{ALL, bump, user_key};
use crate::clock::now;
use crate::db::entity::{assignment, user, vm};
use crate::model::parse_bulk_lines;
use crate::revocation::Revoked;
use crate::{Error, Result, Services, clusters};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use std::collections::{BTreeSet, HashMap};

/// What a bulk request did: lines applied, and lines that were already so.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    pub changed: usize,
    pub unchanged: usize,
}

pub async fn bulk_assign(
    services: &Services,
    cluster_id: i32,
    text: &str,
    unassign: bool,
) -> Result<BulkOutcome> {
    let lines = parse_bulk_lines(text).map_err(Error::Invalid)?;
    clusters::find(services, cluster_id).await?;
    let names: BTreeSet<&str> = lines.iter().map(|(_, u)| u.as_str()).collect();
    let users: HashMap<String, i32> = user::Entity::find()
        .filter(user::Column::Username.is_in(names.iter().copied()))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|u| (u.username, u.id))
        .collect();
    let unknown: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !users.contains_key(*n))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Invalid(format!(
            "No such user: {}. Nothing was changed.",
            unknown.join(", ")
        )));
    }
    let vmids: BTreeSet<i32> = lines.iter().map(|(v, _)| *v).collect();
    let vms: HashMap<i32, bool> = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Vmid.is_in(vmids.iter().copied()))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|v| (v.vmid, v.template))
        .collect();
    let absent: Vec<String> = vmids
        .iter()
        .filter(|v| !vms.contains_key(v))
        .map(i32::to_string)
        .collect();
    if !absent.is_empty() && !unassign {
        return Err(Error::Invalid(format!(
            "Not in this cluster's inventory: {}. Nothing was changed.",
            absent.join(", ")
        )));
    }
    let templates: Vec<String> = vmids
        .iter()
        .filter(|v| vms.get(v) == Some(&true))
        .map(i32::to_string)
        .collect();
    if !templates.is_empty() && !unassign {
        return Err(Error::Invalid(format!(
            "Templates cannot be assigned: {}. Nothing was changed.",
            templates.join(", ")
        )));
    }
    let mut outcome = BulkOutcome::default();
    let txn = services.db.begin().await?;
    for (vmid, name) in &lines {
        let user_id = users[name];
        let changed = if unassign {
            assignment::Entity::delete_many()
                .filter(assignment::Column::UserId.eq(user_id))
                .filter(assignment::Column::ClusterId.eq(cluster_id))
                .filter(assignment::Column::Vmid.eq(*vmid))
                .exec(&txn)
                .await?
                .rows_affected
        } else {
            assignment::Entity::insert(assignment::ActiveModel {
                user_id: Set(user_id),
                cluster_id: Set(cluster_id),
                vmid: Set(*vmid),
                created_at: Set(now()),
                ..Default::default()
            })
            .on_conflict(
                OnConflict::columns([
                    assignment::Column::UserId,
                    assignment::Column::ClusterId,
                    assignment::Column::Vmid,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?
        };
        if changed > 0 {
            outcome.changed += 1;
        } else {
            outcome.unchanged += 1;
        }
    }
    bump(
        &txn,
        std::iter::once(ALL.to_owned()).chain(users.values().map(|id| user_key(*id))),
    )
    .await?;
    txn.commit().await?;
    if unassign {
        // Open consoles of those VMs re-check who may use them.
        for vmid in vmids {
            services
                .revocations
                .publish(Revoked::Vm { cluster_id, vmid });
        }
    }
    Ok(outcome)
}
