//! The policy worker: one task per portal instance. Every `tick_secs` it takes or renews the
//! lease `policy:<cluster id>` of each enabled cluster (`lab::leases`) and runs a tick for the
//! clusters it holds, so with several instances on one database exactly one acts per
//! cluster; when the holder dies, another takes over once the lease (three ticks) runs out.
//! At shutdown the leases are handed back so another instance goes on at once.

use super::tick::{Memory, tick};
use crate::db::entity::cluster;
use crate::{Services, leases};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// The `[policies]` settings.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// Seconds between evaluations (each cluster's, by the instance holding its lease).
    pub tick_secs: u64,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self { tick_secs: 30 }
    }
}

/// The lease's name for a cluster.
pub fn lease_name(cluster_id: i32) -> String {
    format!("policy:{cluster_id}")
}

/// Starts the worker on `services.tasks`; it ends when `services.shutdown` fires.
pub fn spawn_worker(services: Services, settings: PolicySettings) {
    let owner = leases::owner("policy");
    let tasks = services.tasks.clone();
    tasks.spawn(async move {
        let secs = settings.tick_secs.max(1);
        let mut tick_timer = tokio::time::interval(Duration::from_secs(secs));
        tick_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut memory: HashMap<i32, Memory> = HashMap::new();
        let mut held: Vec<i32> = Vec::new();
        loop {
            tokio::select! {
                _ = tick_timer.tick() => {}
                () = services.shutdown.cancelled() => break,
            }
            held = run_once(&services, &owner, secs as i64 * 3, &mut memory).await;
        }
        for cluster_id in held {
            let _ = leases::release(&services, &lease_name(cluster_id), &owner).await;
        }
    });
}

/// One round over the enabled clusters; returns those this instance holds.
pub async fn run_once(
    services: &Services,
    owner: &str,
    lease_secs: i64,
    memory: &mut HashMap<i32, Memory>,
) -> Vec<i32> {
    let clusters = match cluster::Entity::find()
        .filter(cluster::Column::Enabled.eq(true))
        .all(&services.db)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "policies: cannot read clusters");
            return Vec::new();
        }
    };
    let mut held = Vec::new();
    for cluster in clusters {
        match leases::hold(services, &lease_name(cluster.id), owner, lease_secs).await {
            Ok(true) => held.push(cluster.id),
            Ok(false) => {
                // Another instance decides for it; forget what we carried.
                memory.remove(&cluster.id);
                continue;
            }
            Err(e) => {
                tracing::warn!(cluster = %cluster.name, error = %e, "policies: lease");
                continue;
            }
        }
        let started = std::time::Instant::now();
        match tick(services, cluster.id, memory.entry(cluster.id).or_default()).await {
            Ok(report) if report.jobs > 0 || report.warned > 0 => tracing::info!(
                cluster = %cluster.name,
                ms = started.elapsed().as_millis() as u64,
                ?report,
                "policy tick"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(cluster = %cluster.name, error = %e, "policy tick failed"),
        }
    }
    held
}
