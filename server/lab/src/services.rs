//! `Services`: the one cloneable handle to everything the domain needs (database, policy,
//! the secret key, Proxmox clients, the sync trigger).
//! The server builds it once and hands clones to server functions and workers; there are no
//! global singletons.

use crate::clusters::PveClients;
use crate::console::ConsoleSlots;
use crate::secrets::SecretBox;
use crate::sync::SyncTrigger;
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Audit lines are kept a year unless the settings say otherwise.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 365;

#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub policy: Arc<AuthPolicy>,
    /// Seals and opens cluster secrets stored in the database.
    pub secrets: SecretBox,
    /// One Proxmox client per cluster, built on first use.
    pub pve: PveClients,
    /// Wakes the sync workers (after an action, or "sync now").
    pub sync: SyncTrigger,
    /// Consoles open per user.
    pub consoles: ConsoleSlots,
    /// Wakes a job worker.
    pub jobs: crate::jobs::settings::JobTrigger,
    /// Shells on cluster nodes (SSH masters), reused.
    pub shells: crate::node::NodeShells,
    /// Tells open consoles that someone may have lost access (see [`crate::revocation`]).
    pub revocations: crate::revocation::Revocations,
    /// Every long-lived task (sync and job workers, power watchers, console relays) is
    /// spawned on this tracker and watches `shutdown`, so start-up owns them and a shutdown
    /// can wait for them (see [`Services::shut_down`]).
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
    /// The time policies, the quick sync and power checks read (a test moves it).
    pub clock: crate::clock::Clock,
    /// The latest CPU and network figures of running guests, from the quick sync, for the
    /// idle policy (no Proxmox call of its own).
    pub activity: crate::activity::Activity,
    /// How many days audit lines are kept (`crate::audit`; the setting
    /// `audit_retention_days`).
    pub audit_retention_days: u32,
}

impl Services {
    /// On PostgreSQL, where several instances may share the database, this process's
    /// revocations also reach the other instances' relays (`revocation`'s bridge): a portal
    /// that serves also hears theirs; a command that changes access and exits only sends,
    /// and [`Services::shut_down`] waits until it has.
    pub fn bridge_revocations(&self, bridge: crate::revocation::Bridge) {
        if self.db.get_database_backend() == sea_orm::DbBackend::Postgres {
            let pool = self.db.get_postgres_connection_pool().clone();
            let shutdown = self.shutdown.clone();
            crate::revocation::spawn_bridge(&self.revocations, bridge, pool, &self.tasks, shutdown);
        }
    }

    pub fn new(db: DatabaseConnection, policy: AuthPolicy, secrets: SecretBox) -> Self {
        Self {
            db,
            policy: Arc::new(policy),
            secrets,
            pve: PveClients::default(),
            sync: SyncTrigger::default(),
            consoles: ConsoleSlots::default(),
            jobs: Default::default(),
            shells: Default::default(),
            revocations: Default::default(),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            clock: Default::default(),
            activity: Default::default(),
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
        }
    }

    /// Stops every long-lived task: they see `shutdown` (workers take no new work, relays
    /// send a close frame), then this waits up to `grace` for them to end. Returns whether
    /// all did.
    pub async fn shut_down(&self, grace: std::time::Duration) -> bool {
        self.shutdown.cancel();
        self.tasks.close();
        tokio::time::timeout(grace, self.tasks.wait()).await.is_ok()
    }
}

/// Session and login-throttling rules (the `[auth]` section of the settings).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthPolicy {
    /// A session ends after this long without a request.
    pub session_idle_minutes: i64,
    /// …and at the latest this long after login, used or not.
    pub session_max_hours: i64,
    /// Failed logins allowed per username within `throttle_window_minutes`.
    pub max_failures_per_user: i32,
    /// Failed logins allowed per client address within `throttle_window_minutes`.
    pub max_failures_per_addr: i32,
    pub throttle_window_minutes: i64,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            session_idle_minutes: 12 * 60,
            session_max_hours: 14 * 24,
            max_failures_per_user: 5,
            max_failures_per_addr: 30,
            throttle_window_minutes: 15,
        }
    }
}
