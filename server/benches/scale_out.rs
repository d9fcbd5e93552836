//! One instance against two: the dashboard's polls through Debian's nginx (configured as the
//! README says, `tests/support/nginx.rs`) to one `proxlab serve`, then to two on the same
//! database. pvesim with N VMs synced into the database, 500 students with 2 VMs each, each
//! poll a different student's session. Load from `wrk` (200 keep-alive connections, 10 s),
//! "no change" polls and full pages; prints throughput and p50/p99.
//!
//! Everything shares the machine: wrk, nginx, the portals, pvesim and the database. On a
//! 2-core machine a second instance adds processes, not cores, so read the figures as what
//! a second instance costs or gains *there*; on separate hosts each instance has its own.
//!
//! `cargo bench -p server --bench scale_out [-- VMS]`; on PostgreSQL when
//! `PROXLAB_TEST_POSTGRES_URL` names a server (as the test command sets it), else on one
//! SQLite file.

use lab::Services;
use lab::model::ClusterForm;
use lab::secrets::SecretBox;
use std::path::Path;

#[path = "support/world.rs"]
mod world;
#[path = "support/wrk.rs"]
mod wrk;
mod support {
    #[path = "../../tests/support/nginx.rs"]
    pub mod nginx;
    #[path = "../../tests/support/portal.rs"]
    pub mod portal;
}
#[path = "../lab/tests/support/postgres.rs"]
mod postgres;

use support::nginx::Nginx;
use support::portal::{Running, free_port, wait_until_answering};

const STUDENTS: usize = 500;
const CONNECTIONS: usize = 200;
const SECONDS: u32 = 10;

fn instance(dir: &Path, db_url: &str, port: u16) -> Running {
    Running(
        support::portal::serve(dir, db_url, &format!("127.0.0.1:{port}"))
            .env("PROXLAB_BEHIND_PROXY", "true")
            // wrk is far over the per-session limits on purpose.
            .env("PROXLAB_LIMITS__API_PER_SECOND", "1000000")
            .env("PROXLAB_LIMITS__API_BURST", "1000000")
            .spawn()
            .unwrap(),
    )
}

async fn measure(label: &str, url: &str, clients: &[wrk::Poller]) {
    for (since, what) in [(true, "\"no change\""), (false, "full page")] {
        let load = wrk::run(url, clients, since, CONNECTIONS, SECONDS).await;
        println!(
            "{label:<32} {what:<12} {:>6.0} req/s  (latency {}; {}; {})",
            load.rate, load.p50, load.p99, load.summary
        );
    }
}

async fn run(vms: usize) {
    let db_url = postgres::fresh_database_url().await;
    let on = if db_url.is_some() {
        "PostgreSQL"
    } else {
        "one SQLite file"
    };
    println!(
        "--- {vms} VMs in pvesim, {STUDENTS} students with 2 VMs each, on {on}; wrk: \
         {CONNECTIONS} connections, {SECONDS} s"
    );
    let dir = tempfile::tempdir().unwrap();
    let db_url =
        db_url.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("b.db").display()));
    let sim = world::sim(&dir.path().join("pve"), vms);
    let db = lab::db::connect(&db_url).await.unwrap();
    lab::db::migrate(&db).await.unwrap();
    let key = SecretBox::load_or_create(&dir.path().join("secret.key")).unwrap();
    let services = Services::new(db, lab::AuthPolicy::default(), key);
    let view = lab::clusters::create(
        &services,
        &ClusterForm::with_token("bench", &sim.url(), sim.fingerprint(), &sim.token()).unwrap(),
    )
    .await
    .unwrap();
    let cluster = lab::clusters::find(&services, view.id).await.unwrap();
    lab::sync::quick::run(&services, &cluster).await.unwrap();
    lab::sync::full::run(&services, &cluster, None)
        .await
        .unwrap();
    let cookies = world::signed_in(&services, cluster.id, STUDENTS).await;

    let (port_a, port_b) = (free_port(), free_port());
    let _a = instance(dir.path(), &db_url, port_a);
    let direct = format!("http://127.0.0.1:{port_a}");
    wait_until_answering(&direct).await;
    let http = reqwest::Client::new();
    let mut clients = Vec::new();
    for cookie in cookies.into_iter().take(STUDENTS) {
        let url = format!("{direct}/api/vms");
        clients.push(wrk::Poller::first_poll(&http, &url, cookie).await);
    }

    let one = dir.path().join("nginx-one");
    std::fs::create_dir_all(&one).unwrap();
    let proxy = Nginx::start(&one, &[port_a]);
    measure(
        "one instance behind nginx",
        &format!("{}/api/vms", proxy.url()),
        &clients,
    )
    .await;
    drop(proxy);

    let _b = instance(dir.path(), &db_url, port_b);
    wait_until_answering(&format!("http://127.0.0.1:{port_b}")).await;
    let two = dir.path().join("nginx-two");
    std::fs::create_dir_all(&two).unwrap();
    let proxy = Nginx::start(&two, &[port_a, port_b]);
    measure(
        "two instances behind nginx",
        &format!("{}/api/vms", proxy.url()),
        &clients,
    )
    .await;
}

fn main() {
    if !wrk::installed() {
        println!("wrk is not installed (apt install wrk): nothing to measure");
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() { vec![2000] } else { sizes };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for vms in sizes {
        rt.block_on(run(vms));
    }
}
