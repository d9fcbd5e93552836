//! The loop that runs the syncs: a tick every `quick_secs`, or at once when woken. Each
//! enabled cluster gets its own task per run, and a cluster whose previous run is still going
//! is skipped this tick, so one slow cluster never holds up the others.
//!
//! **Several instances.** A tick's run needs the cluster's lease `sync:<id>` (`lab::leases`,
//! three ticks long, renewed each tick): with several portals on one database, one syncs each
//! cluster, and when it dies another takes over once its lease runs out. A wake-up (after an
//! action on this instance) runs at once whoever holds the lease: the sync is idempotent,
//! and the instance that acted is the one whose user waits to see the change. At shutdown the
//! leases are handed back.

use super::{full, quick};
use crate::db::entity::cluster;
use crate::{Services, clock::now, leases, metrics};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The `[sync]` settings.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// Seconds between quick syncs (one call per cluster).
    pub quick_secs: u64,
    /// Seconds between full syncs (configs and IPs where something changed).
    pub full_secs: u64,
    /// Also look guests' MACs up in this neighbour table (`/proc/net/arp` on Linux); off when
    /// unset.
    pub neighbour_table: Option<PathBuf>,
    /// After a full sync, try a TCP connection to port 3389 of each running VM's known IP
    /// (only those addresses; nothing is scanned). Off by default.
    pub rdp_check: bool,
    /// Subnets (IPv4 CIDR, /16 or narrower) to sweep with nmap for VMs without an IP; empty
    /// (the default) means never.
    pub sweep_subnets: Vec<String>,
    /// Seconds between sweeps of a cluster (only when a VM lacks an IP).
    pub sweep_secs: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            quick_secs: 5,
            full_secs: 60,
            neighbour_table: None,
            rdp_check: false,
            sweep_subnets: Vec::new(),
            sweep_secs: 300,
        }
    }
}

/// What a cluster's last run left behind.
#[derive(Default)]
struct ClusterState {
    running: Option<JoinHandle<bool>>,
    last_full: i64,
    booting: bool,
    last_sweep: i64,
    /// Woken while a run was going: the next run is a full one.
    want_full: bool,
}

/// Starts the sync loop on `services.tasks`; it stops taking new runs when
/// `services.shutdown` fires (runs under way finish; they are tracked too).
pub fn spawn_workers(services: Services, settings: SyncSettings) {
    let tasks = services.tasks.clone();
    let owner = leases::owner("sync");
    let lease_secs = 3 * settings.quick_secs.max(1) as i64;
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(settings.quick_secs.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut states: HashMap<i32, ClusterState> = HashMap::new();
        loop {
            let woken = tokio::select! {
                _ = tick.tick() => false,
                _ = services.sync.woken() => true,
                () = services.shutdown.cancelled() => break,
            };
            let clusters = match cluster::Entity::find()
                .filter(cluster::Column::Enabled.eq(true))
                .all(&services.db)
                .await
            {
                Ok(clusters) => clusters,
                Err(e) => {
                    tracing::error!(error = %e, "sync: cannot read clusters");
                    continue;
                }
            };
            states.retain(|id, _| clusters.iter().any(|c| c.id == *id));
            for cluster in clusters {
                let name = lease_name(cluster.id);
                let held = match leases::hold(&services, &name, &owner, lease_secs).await {
                    Ok(held) => held,
                    Err(e) => {
                        tracing::warn!(cluster = %cluster.name, error = %e, "sync: lease not read");
                        false
                    }
                };
                if !held && !woken {
                    continue;
                }
                let state = states.entry(cluster.id).or_default();
                state.want_full |= woken;
                if let Some(handle) = &state.running {
                    if !handle.is_finished() {
                        continue;
                    }
                    if let Some(handle) = state.running.take() {
                        state.booting = handle.await.unwrap_or(false);
                    }
                }
                let due = now() - state.last_full >= settings.full_secs as i64;
                let full = state.want_full || due || state.booting;
                if full {
                    state.last_full = now();
                    state.want_full = false;
                }
                let (services, neighbours) = (services.clone(), settings.neighbour_table.clone());
                let rdp_check = settings.rdp_check && full;
                let sweep_due = full
                    && !settings.sweep_subnets.is_empty()
                    && now() - state.last_sweep >= settings.sweep_secs as i64;
                if sweep_due {
                    state.last_sweep = now();
                }
                let subnets = settings.sweep_subnets.clone();
                state.running = Some(services.tasks.clone().spawn(async move {
                    let booting = run_once(&services, &cluster, full, neighbours.as_deref()).await;
                    if sweep_due
                        && let Err(e) = super::sweep::run(&services, cluster.id, &subnets).await
                    {
                        tracing::warn!(cluster = %cluster.name, error = %e, "subnet sweep failed");
                    }
                    if rdp_check && let Err(e) = super::rdp_check::run(&services, cluster.id).await
                    {
                        tracing::warn!(cluster = %cluster.name, error = %e, "RDP check failed");
                    }
                    booting
                }));
            }
        }
        for cluster_id in states.keys() {
            let _ = leases::release(&services, &lease_name(*cluster_id), &owner).await;
        }
    });
}

/// The lease's name for a cluster's sync.
pub fn lease_name(cluster_id: i32) -> String {
    format!("sync:{cluster_id}")
}

/// One quick sync, then a full one if asked; returns whether a guest is still booting.
async fn run_once(
    services: &Services,
    cluster: &cluster::Model,
    full: bool,
    neighbours: Option<&std::path::Path>,
) -> bool {
    let started = std::time::Instant::now();
    let quick = quick::run(services, cluster).await;
    metrics::sync_run(&cluster.name, "quick", quick.is_ok(), started.elapsed());
    if quick.is_err() || !full {
        return false;
    }
    let started = std::time::Instant::now();
    let report = full::run(services, cluster, neighbours).await;
    metrics::sync_run(&cluster.name, "full", report.is_ok(), started.elapsed());
    match report {
        Ok(report) => report.booting,
        Err(e) => {
            tracing::warn!(cluster = %cluster.name, error = %e, "full sync failed");
            false
        }
    }
}
