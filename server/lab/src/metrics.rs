//! What the portal counts for `/metrics`: every metric's name and labels in one place, and the
//! calls that record them. A leaf: the Proxmox client, the sync, the jobs, the relays and the
//! policy log call in here.
//!
//! Recording goes through the `metrics` facade: with no recorder installed (tests, the CLI,
//! a portal with `metrics.enabled = false`) a call is a no-op, so the domain never needs to
//! know whether anybody scrapes. The server installs the Prometheus recorder and, at each
//! scrape, sets the gauges that are read from the database ([`Snapshot`]) rather than counted.
//!
//! Labels are kept to bounded sets: cluster names, Proxmox routes with their variable parts
//! replaced (`nodes/{node}/qemu/{vmid}/status/start`, [`proxmox_route`]), the enums' words.

use crate::db::entity::{job, vm};
use crate::model::{JobKind, JobState};
use crate::{Result, Services};
use sea_orm::sea_query::Expr;
use sea_orm::{DbBackend, EntityTrait, ExprTrait, QuerySelect};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// HTTP requests answered, by route (the router's pattern), method and status.
pub const HTTP_REQUESTS: &str = "proxlab_http_requests_total";
/// Their latency, by route and method.
pub const HTTP_DURATION: &str = "proxlab_http_request_duration_seconds";
/// Proxmox API calls, by cluster, method, route and outcome (`ok` or an error's kind).
pub const PROXMOX_REQUESTS: &str = "proxlab_proxmox_requests_total";
/// Their latency, by cluster and route.
pub const PROXMOX_DURATION: &str = "proxlab_proxmox_request_duration_seconds";
/// Sync runs' duration, by cluster, kind (`quick`, `full`) and outcome.
pub const SYNC_DURATION: &str = "proxlab_sync_duration_seconds";
/// The end of each cluster's last successful sync, as a Unix time (read from the database).
pub const SYNC_LAST_SUCCESS: &str = "proxlab_sync_last_success_timestamp_seconds";
/// Jobs by kind and state, from the database.
pub const JOBS: &str = "proxlab_jobs";
/// Jobs' run time from claim to end, by kind and the state they ended in.
pub const JOB_DURATION: &str = "proxlab_job_duration_seconds";
/// VMs in the inventory by power state, from the database.
pub const VMS: &str = "proxlab_vms";
/// Console, terminal and SSH relays open now, by kind.
pub const CONSOLES_OPEN: &str = "proxlab_console_sessions_open";
/// Relays opened since start, by kind and outcome (`opened`, `refused`).
pub const CONSOLES: &str = "proxlab_console_sessions_total";
/// The policy worker's acts, by action.
pub const POLICY_ACTIONS: &str = "proxlab_policy_actions_total";
/// The database pool's connections, by state (`idle`, `in_use`), and its maximum.
pub const DB_POOL: &str = "proxlab_db_pool_connections";
pub const DB_POOL_MAX: &str = "proxlab_db_pool_max_connections";
/// How long the scrape waited for a database connection: the pool's wait, probed.
pub const DB_ACQUIRE: &str = "proxlab_db_acquire_seconds";
/// Always 1, with the version as a label.
pub const BUILD_INFO: &str = "proxlab_build_info";

/// Latency buckets (seconds) for the histograms: a page in milliseconds, a Proxmox call in
/// tens of milliseconds, a clone or a job in seconds to minutes.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0,
];

/// One answered HTTP request.
pub fn http_request(route: &str, method: &str, status: u16, took: Duration) {
    let (route, method) = (route.to_owned(), method.to_owned());
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method)
        .record(took.as_secs_f64());
}

/// One Proxmox API call; `outcome` is `ok` or the error's kind.
pub fn proxmox_call(cluster: &str, method: &str, path: &str, outcome: &str, took: Duration) {
    let route = proxmox_route(path);
    metrics::counter!(PROXMOX_REQUESTS, "cluster" => cluster.to_owned(), "method" => method.to_owned(),
        "route" => route.clone(), "outcome" => outcome.to_owned())
    .increment(1);
    metrics::histogram!(PROXMOX_DURATION, "cluster" => cluster.to_owned(), "route" => route)
        .record(took.as_secs_f64());
}

/// One sync run.
pub fn sync_run(cluster: &str, kind: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics::histogram!(SYNC_DURATION, "cluster" => cluster.to_owned(), "kind" => kind, "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// A job that ended, after `took` on this instance's worker.
pub fn job_ended(kind: &str, state: &str, took: Duration) {
    metrics::histogram!(JOB_DURATION, "kind" => kind.to_owned(), "state" => state.to_owned())
        .record(took.as_secs_f64());
}

/// A relay asked for: `opened` or `refused`. An opened one counts as open until the returned
/// guard is dropped, however the relay ends (a socket whose upgrade never came included).
pub fn console_opened(kind: &str, opened: bool) -> Option<OpenConsole> {
    let outcome = if opened { "opened" } else { "refused" };
    metrics::counter!(CONSOLES, "kind" => kind.to_owned(), "outcome" => outcome).increment(1);
    opened.then(|| {
        metrics::gauge!(CONSOLES_OPEN, "kind" => kind.to_owned()).increment(1.0);
        OpenConsole(kind.to_owned())
    })
}

/// One open relay in [`CONSOLES_OPEN`], until dropped.
pub struct OpenConsole(String);

impl Drop for OpenConsole {
    fn drop(&mut self) {
        metrics::gauge!(CONSOLES_OPEN, "kind" => std::mem::take(&mut self.0)).decrement(1.0);
    }
}

/// The policy worker acted.
pub fn policy_action(action: &str) {
    metrics::counter!(POLICY_ACTIONS, "action" => action.to_owned()).increment(1);
}

/// Sets the gauges that are read, not counted: jobs by kind and state, VMs by power state,
/// each enabled cluster's last good sync, the database pool, and the build. Called by each
/// scrape, so they are as fresh as the database; every instance on one database reports the
/// same jobs and VMs (a dashboard takes their `max`, never their sum).
pub async fn snapshot(services: &Services) -> Result<()> {
    let started = Instant::now();
    probe_pool(services).await;
    metrics::gauge!(DB_ACQUIRE).set(started.elapsed().as_secs_f64());

    let jobs: Vec<(JobKind, JobState, i64)> = job::Entity::find()
        .select_only()
        .column(job::Column::Kind)
        .column(job::Column::State)
        .column_as(Expr::col(job::Column::Id).count(), "n")
        .group_by(job::Column::Kind)
        .group_by(job::Column::State)
        .into_tuple()
        .all(&services.db)
        .await?;
    // Every kind and state, so a count that fell to nothing reads 0 rather than its last value.
    for kind in JobKind::ALL {
        for state in JobState::ALL {
            let n = jobs
                .iter()
                .find(|(k, s, _)| k == kind && s == state)
                .map_or(0, |(_, _, n)| *n);
            metrics::gauge!(JOBS, "kind" => kind.as_str(), "state" => state.as_str()).set(n as f64);
        }
    }

    let vms: Vec<(String, i64)> = vm::Entity::find()
        .select_only()
        .column(vm::Column::Status)
        .column_as(Expr::col(vm::Column::Id).count(), "n")
        .group_by(vm::Column::Status)
        .into_tuple()
        .all(&services.db)
        .await?;
    set_vm_states(vms);

    for cluster in crate::clusters::list(services).await? {
        if let (true, Some(at)) = (cluster.enabled, cluster.sync.quick_at) {
            metrics::gauge!(SYNC_LAST_SUCCESS, "cluster" => cluster.name).set(at as f64);
        }
    }
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(())
}

/// Proxmox's words (running, stopped, paused, …) with their counts; a state seen before
/// and gone now is set to 0.
fn set_vm_states(vms: Vec<(String, i64)>) {
    static VM_STATES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut seen = VM_STATES.lock().expect("poisoned");
    for state in seen.iter() {
        if !vms.iter().any(|(s, _)| s == state) {
            metrics::gauge!(VMS, "state" => state.clone()).set(0.0);
        }
    }
    for (state, n) in vms {
        metrics::gauge!(VMS, "state" => state.clone()).set(n as f64);
        seen.insert(state);
    }
}

/// The pool's connections now, and one acquired and given back (the wait a request would see).
async fn probe_pool(services: &Services) {
    let db = &services.db;
    let (size, idle, max, acquired) = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            let max = pool.options().get_max_connections();
            (
                pool.size(),
                pool.num_idle(),
                max,
                pool.acquire().await.is_ok(),
            )
        }
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            let max = pool.options().get_max_connections();
            (
                pool.size(),
                pool.num_idle(),
                max,
                pool.acquire().await.is_ok(),
            )
        }
        _ => return,
    };
    if !acquired {
        tracing::warn!("metrics: no database connection for the pool probe");
    }
    let idle = idle as f64;
    metrics::gauge!(DB_POOL, "state" => "idle").set(idle);
    metrics::gauge!(DB_POOL, "state" => "in_use").set((f64::from(size) - idle).max(0.0));
    metrics::gauge!(DB_POOL_MAX).set(f64::from(max));
}

/// A Proxmox API path as a route with its variable parts named: the node, VMID, task,
/// storage, volume, pool, group, user or snapshot. The query is dropped. Keeps the label's
/// values to the few dozen endpoints the portal calls, whatever the cluster holds.
pub fn proxmox_route(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default().trim_matches('/');
    let mut out: Vec<&str> = Vec::new();
    let mut previous = "";
    for segment in path.split('/') {
        let named = match previous {
            "nodes" => Some("{node}"),
            "qemu" | "lxc" => Some("{vmid}"),
            "tasks" => Some("{upid}"),
            "storage" => Some("{storage}"),
            "content" => Some("{volume}"),
            "pools" => Some("{pool}"),
            "groups" => Some("{group}"),
            "users" => Some("{user}"),
            "snapshot" => Some("{snapshot}"),
            _ => None,
        };
        out.push(match named {
            Some(name) => name,
            None if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() => "{id}",
            None => segment,
        });
        previous = segment;
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric the Grafana dashboard in contrib/ queries is one the portal records.
    #[test]
    fn the_grafana_dashboard_queries_only_metrics_that_exist() {
        let dashboard = include_str!("../../../contrib/grafana/proxlab.json");
        let known = [
            HTTP_REQUESTS,
            HTTP_DURATION,
            PROXMOX_REQUESTS,
            PROXMOX_DURATION,
            SYNC_DURATION,
            SYNC_LAST_SUCCESS,
            JOBS,
            JOB_DURATION,
            VMS,
            CONSOLES_OPEN,
            CONSOLES,
            POLICY_ACTIONS,
            DB_POOL,
            DB_POOL_MAX,
            DB_ACQUIRE,
            BUILD_INFO,
        ];
        let mut queried = std::collections::BTreeSet::new();
        for (at, _) in dashboard.match_indices("proxlab_") {
            let name: String = dashboard[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if name == "proxlab_" {
                continue; // the dashboard's uid and the like
            }
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| known.contains(base))
                .unwrap_or(&name)
                .to_owned();
            queried.insert(base);
        }
        let unknown: Vec<_> = queried
            .iter()
            .filter(|n| !known.contains(&n.as_str()))
            .collect();
        assert!(unknown.is_empty(), "the dashboard queries {unknown:?}");
        assert!(queried.len() >= 12, "{queried:?}");
    }

    #[test]
    fn a_proxmox_path_becomes_its_route() {
        let cases = [
            ("cluster/resources?type=vm", "cluster/resources"),
            (
                "/nodes/pve1/qemu/1203/status/start",
                "nodes/{node}/qemu/{vmid}/status/start",
            ),
            (
                "nodes/pve2/tasks/UPID:pve2:0001:0002:0003:qmclone:1203:root@pam:/status",
                "nodes/{node}/tasks/{upid}/status",
            ),
            (
                "nodes/pve1/storage/local/content/local%3Aiso%2Fx.iso",
                "nodes/{node}/storage/{storage}/content/{volume}",
            ),
            (
                "nodes/pve1/lxc/200/snapshot/baseline/rollback",
                "nodes/{node}/lxc/{vmid}/snapshot/{snapshot}/rollback",
            ),
            ("pools/proxlab-class-1200", "pools/{pool}"),
            ("access/groups/students", "access/groups/{group}"),
            ("cluster/nextid", "cluster/nextid"),
            ("version", "version"),
        ];
        for (path, route) in cases {
            assert_eq!(proxmox_route(path), route, "{path}");
        }
    }
}
