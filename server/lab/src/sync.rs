//! The sync workers keep the `vms` table true to Proxmox, so that no page ever waits on it.
//!
//! * **Quick sync** ([`quick`]): one `GET /cluster/resources?type=vm` per cluster; writes only
//!   the rows that changed, in one transaction, and bumps the change counters of the people
//!   who can see them. Every `quick_secs` (5 s).
//! * **Full sync** ([`full`]): guest configs (MACs, OS type) and IPs, but only where something
//!   can have changed: new, moved, renamed or just-started guests, and running guests whose IP
//!   is not known yet while they boot. Every `full_secs` (60 s), right after an action, and
//!   every quick cycle while a guest is booting without an IP.
//! * With each full sync ([`nodes`]), the nodes' state, figures, versions and storage use,
//!   for the admin's node view: one call more, and one per node an hour.
//! * With each full sync ([`isos`]), the ISO lists of the ISO storages when ten minutes old
//!   or asked for, and a look at running ISO downloads.
//! * Optionally ([`sweep`]), an nmap sweep of admin-listed subnets for running VMs no other
//!   tier found an IP for (matched by MAC).
//! * Optionally ([`rdp_check`]), whether port 3389 answers on the IPs found, so the RDP
//!   button only shows where RDP can work.
//! * Clusters are synced concurrently and independently: a slow or unreachable cluster never
//!   delays another, and within a cluster at most [`full::PER_NODE`] calls run per node.
//!   An unreachable API marks its VMs `unknown`; rows are never erased for that.

pub mod full;
pub mod isos;
pub mod neighbours;
pub mod nodes;
pub mod quick;
pub mod rdp_check;
mod status;
pub mod sweep;
mod worker;

pub use worker::{SyncSettings, lease_name, spawn_workers};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Mutex as AsyncMutex, Notify, OwnedMutexGuard};

/// Wakes the workers now (after an action, a new cluster, or "sync now"), and serialises
/// the write phases of the syncs of one cluster: a sync started by hand (demo, tests) and the
/// workers' own never interleave their read-compare-write of the same rows.
#[derive(Clone, Default)]
pub struct SyncTrigger {
    wake: Arc<Notify>,
    locks: Arc<Mutex<HashMap<i32, Arc<AsyncMutex<()>>>>>,
}

impl SyncTrigger {
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Held while a sync compares and writes `cluster_id`'s rows (never across a remote call).
    pub(crate) async fn lock(&self, cluster_id: i32) -> OwnedMutexGuard<()> {
        let lock = self
            .locks
            .lock()
            .expect("sync lock map poisoned")
            .entry(cluster_id)
            .or_default()
            .clone();
        lock.lock_owned().await
    }
}
