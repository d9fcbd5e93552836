//! Quick sync: one `/cluster/resources?type=vm` call, a diff against the stored rows, and one
//! transaction with only the changes.
//!
//! Proxmox quirks handled here: a guest on an offline node (or mid-clone) comes back with only
//! `vmid/node/type/status:"unknown"`, so its last known name and specs are kept; a guest that
//! is no longer listed was deleted (offline nodes' guests are still listed), so its row goes
//! while its assignments stay, to show as "missing".

use super::status::{self, Run};
use crate::clock::now;
use crate::db::entity::{cluster, vm};
use crate::inventory::{PENDING_TIMEOUT_SECS, bump_for_vms};
use crate::pve::GuestResource;
use crate::{Result, Services, clusters};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Iterable, QueryFilter,
    QuerySelect, TransactionTrait,
};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// A started-at time that moves by less than this is the same boot (uptime is read at
/// slightly different moments).
const STARTED_AT_SLACK: i64 = 15;

/// What one quick sync changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct QuickReport {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub guests: usize,
}

/// Runs one quick sync of `cluster`. An unreachable API marks the cluster's VMs unknown.
pub async fn run(services: &Services, cluster: &cluster::Model) -> Result<QuickReport> {
    let client = clusters::client(services, cluster)?;
    let started = Instant::now();
    match client.vm_resources().await {
        Ok(guests) => {
            let now = services.clock.now();
            services.activity.record(cluster.id, now, &guests);
            let report = apply(services, cluster.id, &guests, now).await?;
            let ms = started.elapsed().as_millis() as i64;
            let run = Run::Quick {
                ms,
                guests: guests.len() as i32,
            };
            status::record(&services.db, cluster.id, run, 1).await?;
            Ok(report)
        }
        Err(e) => {
            tracing::warn!(cluster = %cluster.name, error = %e, "quick sync failed");
            mark_unknown(services, cluster.id).await?;
            let run = Run::Failed {
                error: e.to_string(),
            };
            status::record(&services.db, cluster.id, run, 1).await?;
            Err(e.into())
        }
    }
}

/// Guests compared per read: the stored rows are read this many at a time, so that memory
/// stays flat however many VMs the cluster has (10 000 full rows at once cost ~30 MB of
/// SQLite values and row structs at every cycle).
const CHUNK: usize = 500;

/// Writes the difference between `guests` and the stored rows of `cluster_id`.
pub async fn apply(
    services: &Services,
    cluster_id: i32,
    guests: &[GuestResource],
    now: i64,
) -> Result<QuickReport> {
    let _writing = services.sync.lock(cluster_id).await;
    let mut report = QuickReport {
        guests: guests.len(),
        ..Default::default()
    };
    // Every stored VMID (integers only): what is not listed any more was deleted.
    let stored: Vec<(i32, i32)> = vm::Entity::find()
        .select_only()
        .column(vm::Column::Vmid)
        .column(vm::Column::Id)
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .into_tuple()
        .all(&services.db)
        .await?;
    let listed: HashSet<i32> = guests.iter().map(|g| g.vmid as i32).collect();
    let gone: Vec<(i32, i32)> = stored
        .into_iter()
        .filter(|(vmid, _)| !listed.contains(vmid))
        .collect();
    // Compare chunk by chunk; only the changes are kept for the write.
    let mut touched = HashSet::new();
    let mut updates = Vec::new();
    let mut inserts = Vec::new();
    // By VMID, so that each chunk is one range of the (cluster, vmid) index.
    let mut sorted: Vec<&GuestResource> = guests.iter().collect();
    sorted.sort_unstable_by_key(|g| g.vmid);
    for chunk in sorted.chunks(CHUNK) {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
            continue;
        };
        let mut rows: HashMap<i32, vm::Model> = vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(cluster_id))
            .filter(vm::Column::Vmid.between(first.vmid as i32, last.vmid as i32))
            .all(&services.db)
            .await?
            .into_iter()
            .map(|row| (row.vmid, row))
            .collect();
        for guest in chunk {
            let vmid = guest.vmid as i32;
            match rows.remove(&vmid) {
                Some(old) => {
                    let new = merge(&old, guest, now);
                    if new != old {
                        touched.insert(vmid);
                        report.changed += 1;
                        updates.push(changed_columns(old, new));
                    }
                }
                None => {
                    touched.insert(vmid);
                    report.added += 1;
                    let mut row =
                        merge(&blank(cluster_id, vmid, now), guest, now).into_active_model();
                    row.id = sea_orm::ActiveValue::NotSet;
                    inserts.push(row);
                }
            }
        }
    }
    report.removed = gone.len();
    touched.extend(gone.iter().map(|(vmid, _)| *vmid));
    if touched.is_empty() {
        return Ok(report);
    }
    let txn = services.db.begin().await?;
    for update in updates {
        update.update(&txn).await?;
    }
    for chunk in inserts.chunks(200) {
        vm::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in gone.chunks(500) {
        vm::Entity::delete_many()
            .filter(vm::Column::Id.is_in(chunk.iter().map(|(_, id)| *id)))
            .exec(&txn)
            .await?;
    }
    bump_for_vms(&txn, cluster_id, &touched).await?;
    txn.commit().await?;
    Ok(report)
}

/// An update of only the columns that differ, so that columns written meanwhile by others
/// (an action's pending claim, the full sync's IP) are not overwritten with what we read.
fn changed_columns(old: vm::Model, new: vm::Model) -> vm::ActiveModel {
    let new = new.into_active_model();
    let mut active = old.into_active_model();
    for column in vm::Column::iter() {
        let value = new.get(column);
        if value != active.get(column)
            && let Some(value) = value.into_value()
        {
            active.set(column, value);
        }
    }
    active
}

/// A row with nothing known yet: a guest the sync sees for the first time is merged into it.
pub(crate) fn blank(cluster_id: i32, vmid: i32, now: i64) -> vm::Model {
    vm::Model {
        id: 0,
        cluster_id,
        vmid,
        node: String::new(),
        kind: String::new(),
        name: String::new(),
        status: String::new(),
        template: false,
        cpus: 0,
        max_mem: 0,
        max_disk: 0,
        started_at: None,
        lock: None,
        os_type: None,
        macs: None,
        ip: None,
        ip_source: None,
        ip_checked_at: None,
        config_digest: None,
        needs_detail: true,
        pending_action: None,
        pending_since: None,
        task_upid: None,
        task_error: None,
        updated_at: now,
        rdp_open: None,
        firmware: None,
        disk_storage: None,
        cdrom: None,
        nics: None,
        pool: None,
        tags: None,
    }
}

/// The stored row updated with what Proxmox says now.
pub fn merge(old: &vm::Model, guest: &GuestResource, now: i64) -> vm::Model {
    let mut new = old.clone();
    // A guest without RRD data (offline node, mid-clone) only has id/node/type/status: keep
    // what we knew.
    let partial = guest.status == "unknown" && guest.maxmem == 0;
    new.node = guest.node.clone();
    new.kind = guest.kind.as_str().to_owned();
    new.status = guest.status.clone();
    new.lock = guest.lock.clone();
    if !partial {
        new.name = guest
            .name
            .clone()
            .unwrap_or_else(|| format!("VM {}", guest.vmid));
        new.template = guest.template;
        new.cpus = guest.maxcpu.round() as i32;
        new.max_mem = guest.maxmem as i64;
        new.max_disk = guest.maxdisk as i64;
        new.pool = guest.pool.clone();
        new.tags = guest.tags.clone();
    } else if new.name.is_empty() {
        new.name = format!("VM {}", guest.vmid);
    }
    new.started_at = match (guest.status.as_str(), old.started_at) {
        ("running", Some(t)) if (now - guest.uptime as i64 - t).abs() <= STARTED_AT_SLACK => {
            Some(t)
        }
        ("running", _) => Some(now - guest.uptime as i64),
        ("unknown", t) => t,
        _ => None,
    };
    if new.status == "stopped" {
        new.ip = None;
        new.ip_source = None;
        new.rdp_open = None;
    }
    let rebooted = old.started_at.is_some() && new.started_at != old.started_at;
    let just_started = new.status == "running" && (old.status != "running" || rebooted);
    if old.node != new.node || old.name != new.name || just_started {
        new.needs_detail = true;
    }
    if just_started {
        // A new boot may bring a new address.
        new.ip = None;
        new.ip_source = None;
        new.ip_checked_at = None;
        new.rdp_open = None;
    }
    let done = match (old.pending_action.as_deref(), new.status.as_str()) {
        (Some("start"), "running") | (Some("shutdown" | "stop"), "stopped") => true,
        (Some("reboot"), "running") => rebooted,
        (Some(_), _) => old
            .pending_since
            .is_none_or(|t| now - t >= PENDING_TIMEOUT_SECS),
        (None, _) => false,
    };
    if done {
        new.pending_action = None;
        new.pending_since = None;
    }
    if new != *old {
        new.updated_at = now;
    }
    new
}

/// The cluster's API cannot be reached: its VMs are `unknown` until it answers again.
async fn mark_unknown(services: &Services, cluster_id: i32) -> Result<()> {
    let _writing = services.sync.lock(cluster_id).await;
    let vmids: HashSet<i32> = vm::Entity::find()
        .select_only()
        .column(vm::Column::Vmid)
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Status.ne("unknown"))
        .into_tuple::<i32>()
        .all(&services.db)
        .await?
        .into_iter()
        .collect();
    if vmids.is_empty() {
        return Ok(());
    }
    let txn = services.db.begin().await?;
    vm::Entity::update_many()
        .col_expr(
            vm::Column::Status,
            sea_orm::sea_query::Expr::value("unknown"),
        )
        .col_expr(
            vm::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now()),
        )
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .exec(&txn)
        .await?;
    bump_for_vms(&txn, cluster_id, &vmids).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pve::GuestKind;

    fn guest(status: &str, uptime: u64) -> GuestResource {
        GuestResource {
            vmid: 100,
            node: "pve1".into(),
            kind: GuestKind::Qemu,
            status: status.into(),
            name: Some("web".into()),
            template: false,
            uptime,
            cpu: 0.1,
            maxcpu: 2.0,
            mem: 1,
            maxmem: 2 << 30,
            maxdisk: 32 << 30,
            netin: 0,
            netout: 0,
            lock: None,
            tags: None,
            pool: None,
        }
    }

    #[test]
    fn a_running_vm_whose_usage_moves_is_not_a_change() {
        let first = merge(&blank(1, 100, 1000), &guest("running", 100), 1000);
        assert_eq!(first.started_at, Some(900));
        let mut later = guest("running", 105);
        later.cpu = 0.9;
        later.mem = 12345;
        assert_eq!(merge(&first, &later, 1006), first);
    }

    #[test]
    fn a_start_is_confirmed_and_asks_for_details() {
        let mut stopped = merge(&blank(1, 100, 0), &guest("stopped", 0), 0);
        stopped.needs_detail = false;
        stopped.pending_action = Some("start".into());
        stopped.pending_since = Some(0);
        stopped.ip = Some("10.0.0.5".into());
        let running = merge(&stopped, &guest("running", 3), 5);
        assert_eq!(running.pending_action, None);
        assert!(running.needs_detail);
        assert_eq!(running.ip, None);
    }

    #[test]
    fn an_offline_node_keeps_what_we_knew() {
        let known = merge(&blank(1, 100, 0), &guest("running", 50), 100);
        let mut partial = guest("unknown", 0);
        partial.name = None;
        partial.maxmem = 0;
        partial.maxcpu = 0.0;
        let unknown = merge(&known, &partial, 200);
        assert_eq!(unknown.status, "unknown");
        assert_eq!(unknown.name, "web");
        assert_eq!(unknown.cpus, 2);
        assert_eq!(unknown.started_at, known.started_at);
    }

    #[test]
    fn a_pool_and_tags_follow_proxmox_but_survive_an_offline_node() {
        let mut tagged = guest("running", 100);
        tagged.pool = Some("lab-a".into());
        tagged.tags = Some("lab;alice".into());
        let known = merge(&blank(1, 100, 0), &tagged, 100);
        assert_eq!(known.pool.as_deref(), Some("lab-a"));
        assert_eq!(known.tags.as_deref(), Some("lab;alice"));
        let mut partial = guest("unknown", 0);
        partial.maxmem = 0;
        let offline = merge(&known, &partial, 200);
        assert_eq!(offline.pool.as_deref(), Some("lab-a"), "kept while unknown");
        let moved = merge(&known, &guest("running", 100), 300);
        assert_eq!((moved.pool, moved.tags), (None, None), "taken out of both");
    }

    #[test]
    fn a_pending_action_that_never_happens_expires() {
        let mut row = merge(&blank(1, 100, 0), &guest("stopped", 0), 0);
        row.pending_action = Some("start".into());
        row.pending_since = Some(0);
        assert!(
            merge(&row, &guest("stopped", 0), 10)
                .pending_action
                .is_some()
        );
        assert!(
            merge(&row, &guest("stopped", 0), PENDING_TIMEOUT_SECS)
                .pending_action
                .is_none()
        );
    }
}
