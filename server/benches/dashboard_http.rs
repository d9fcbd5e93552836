//! The dashboard over HTTP, as browsers poll it: a real portal (router, session check, server
//! function) on a SQLite file, pvesim with N VMs synced into it, 500 students with 2 VMs each.
//! Prints p50/p99 and throughput for one client, for 500 pollers at the dashboard's fastest
//! cadence (every 2 s), and at saturation (500 clients back to back), full page and
//! "no change" (the poll that brings the current counter). Client and server share the
//! machine's cores, so the figures include the client's own cost.
//!
//! `cargo bench -p server --bench dashboard_http [-- 2000 10000]`

use lab::model::{ClusterForm, Role};
use leptos::config::LeptosOptions;
use std::time::{Duration, Instant};

const STUDENTS: usize = 500;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, mut samples: Vec<Duration>, wall: Duration) {
    samples.sort();
    println!(
        "{label:<44} n={:>6}  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>6.0} req/s",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.len() as f64 / wall.as_secs_f64()
    );
}

struct Client {
    cookie: String,
    counter: String,
}

async fn poll(
    http: &reqwest::Client,
    url: &str,
    clients: &[Client],
    rounds: usize,
    since: bool,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in clients {
        let (http, url, cookie) = (http.clone(), url.to_owned(), c.cookie.clone());
        let form: Vec<(String, String)> = if since {
            vec![("since".into(), c.counter.clone())]
        } else {
            vec![]
        };
        tasks.spawn(async move {
            let mut times = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .header("cookie", &cookie)
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success(), "{}", res.status());
                let body = res.text().await.unwrap();
                assert_eq!(body == "null", since, "{}", &body[..body.len().min(200)]);
                times.push(t.elapsed());
            }
            times
        });
    }
    let mut all = Vec::new();
    while let Some(t) = tasks.join_next().await {
        all.extend(t.unwrap());
    }
    (all, started.elapsed())
}

/// Open loop: every client polls once per `period` (random phase), `rounds` times, as the
/// dashboard does while something is in transition (its fastest cadence).
async fn paced(
    http: &reqwest::Client,
    url: &str,
    clients: &[Client],
    rounds: usize,
    period: Duration,
    since: bool,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in clients.iter().enumerate() {
        let (http, url, cookie) = (http.clone(), url.to_owned(), c.cookie.clone());
        let form: Vec<(String, String)> = if since {
            vec![("since".into(), c.counter.clone())]
        } else {
            vec![]
        };
        let phase = period.mul_f64(i as f64 / clients.len() as f64);
        tasks.spawn(async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + phase, period);
            let mut times = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                ticker.tick().await;
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .header("cookie", &cookie)
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success());
                res.bytes().await.unwrap();
                times.push(t.elapsed());
            }
            times
        });
    }
    let mut all = Vec::new();
    while let Some(t) = tasks.join_next().await {
        all.extend(t.unwrap());
    }
    (all, started.elapsed())
}

async fn run(vms: usize) {
    println!("--- {vms} VMs in pvesim, {STUDENTS} students with 2 VMs each, 1 admin");
    let dir = tempfile::tempdir().unwrap();
    let sim = pvesim::Sim::start(pvesim::SimConfig {
        root: dir.path().join("pve"),
        vms,
        templates: 4,
        containers: 0,
        unauthorized_delay: Duration::ZERO,
        seed_disks: pvesim::SeedDisks::TemplatesOnly,
        ..pvesim::SimConfig::default()
    })
    .unwrap();
    let settings = server::Settings {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: format!("sqlite://{}", dir.path().join("b.db").display()).into(),
        secret_key_file: dir.path().join("secret.key"),
        ..server::Settings::default()
    };
    let options = LeptosOptions::builder()
        .output_name("proxlab")
        .site_root("target/site")
        .build();
    let portal = server::start(&settings, options).await.unwrap();
    let url = format!("http://{}/api/vms", portal.listener.local_addr().unwrap());
    let services = portal.services.clone();
    tokio::spawn(server::router::serve(portal));

    let view = lab::clusters::create(
        &services,
        &ClusterForm::with_token("bench", &sim.url(), sim.fingerprint(), &sim.token()).unwrap(),
    )
    .await
    .unwrap();
    let cluster = lab::clusters::find(&services, view.id).await.unwrap();
    lab::sync::quick::run(&services, &cluster).await.unwrap();
    let t = Instant::now();
    let full = lab::sync::full::run(&services, &cluster, None)
        .await
        .unwrap();
    println!(
        "first full sync: {} configs, {} calls, {:.0} ms",
        full.configs,
        full.calls,
        t.elapsed().as_secs_f64() * 1e3
    );
    sim.control().reset_counters();
    let t = Instant::now();
    // What the workers do in one idle minute: 12 quick syncs and one full sync.
    for _ in 0..12 {
        lab::sync::quick::run(&services, &cluster).await.unwrap();
    }
    lab::sync::full::run(&services, &cluster, None)
        .await
        .unwrap();
    let calls: u64 = sim.control().counters().values().sum();
    println!(
        "one idle minute of sync work: {calls} Proxmox calls, {:.0} ms of work",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    lab::sync::quick::run(&services, &cluster).await.unwrap();
    println!(
        "quick sync with nothing changed: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let vmids = lab::inventory::first_vms(&services, cluster.id, (2 * STUDENTS) as u64)
        .await
        .unwrap();
    let hash = lab::auth::hash_password("bench password 1").await.unwrap();
    let mut clients = Vec::new();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    for i in 0..=STUDENTS {
        use sea_orm::{ActiveValue::Set, EntityTrait};
        let (name, role) = if i == STUDENTS {
            ("boss".to_string(), Role::Admin)
        } else {
            (format!("s{i}"), Role::Student)
        };
        let user = lab::db::entity::user::Entity::insert(lab::db::entity::user::ActiveModel {
            username: Set(name.clone()),
            display_name: Set(name.clone()),
            role: Set(role.as_str().into()),
            password_hash: Set(hash.clone()),
            disabled: Set(false),
            created_at: Set(0),
            ..Default::default()
        })
        .exec_with_returning(&services.db)
        .await
        .unwrap();
        if role == Role::Student {
            for vmid in vmids.iter().skip(2 * i).take(2) {
                lab::inventory::assign(&services, cluster.id, *vmid, &name)
                    .await
                    .unwrap();
            }
        }
        let session = lab::auth::start_session(&services, user.id, None)
            .await
            .unwrap();
        let cookie = format!("{}={session}", app::session::COOKIE_NAME);
        let body = http
            .post(&url)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counter = body
            .split("\"counter\":")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap()
            .to_owned();
        clients.push(Client { cookie, counter });
    }
    let admin = clients.pop().unwrap();
    let (s, w) = poll(&http, &url, &clients[..1], 300, false).await;
    report("student dashboard, 1 client", s, w);
    let (s, w) = poll(&http, &url, std::slice::from_ref(&admin), 100, false).await;
    report("admin dashboard (60 of all VMs), 1 client", s, w);
    let (s, w) = poll(&http, &url, &clients[..1], 300, true).await;
    report("\"no change\" poll, 1 client", s, w);
    let period = Duration::from_secs(2);
    let (s, w) = paced(&http, &url, &clients, 5, period, true).await;
    report("500 pollers every 2 s, \"no change\"", s, w);
    let (s, w) = paced(&http, &url, &clients, 5, period, false).await;
    report("500 pollers every 2 s, full page", s, w);
    let (s, w) = poll(&http, &url, &clients, 10, true).await;
    report("saturation: 500 clients back to back, \"no change\"", s, w);
    let (s, w) = poll(&http, &url, &clients, 4, false).await;
    report("saturation: 500 clients back to back, full page", s, w);
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmRSS"))
    {
        println!(
            "RSS of this process (portal + pvesim + client): {}",
            line.trim_start_matches("VmRSS:").trim()
        );
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![2000, 10_000]
    } else {
        sizes
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for vms in sizes {
        rt.block_on(run(vms));
    }
}
