//! The dashboard over HTTP, as browsers poll it: a real portal (router, session check, server
//! function) on a SQLite file, pvesim with N VMs synced into it, 500 students with 2 VMs each.
//! Prints p50/p99 and throughput for one client, for 500 pollers at the dashboard's fastest
//! cadence (every 2 s), and at saturation (500 clients back to back), full page and
//! "no change" (the poll that brings the current counter). Client and server share the
//! machine's cores, so the figures include the client's own cost.
//!
//! `cargo bench -p server --bench dashboard_http [-- 2000 10000]`

use lab::model::ClusterForm;
use leptos::config::LeptosOptions;
use std::time::{Duration, Instant};

#[path = "support/world.rs"]
mod world;
#[path = "support/wrk.rs"]
mod wrk;

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

use wrk::Poller as Client;

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

/// Saturation again with `wrk` (support/wrk.rs): 500 keep-alive connections, each request a
/// different student's "no change" poll.
async fn wrk_saturation(url: &str, clients: &[Client]) {
    if !wrk::installed() {
        println!("wrk is not installed (apt install wrk): no wrk figure");
        return;
    }
    let load = wrk::run(url, clients, true, 500, 10).await;
    println!(
        "{:<44} {:>6.0} req/s  (latency {}; {}; {})",
        "saturation with wrk (1 thread, 500 conns), \"no change\"",
        load.rate,
        load.p50,
        load.p99,
        load.summary
    );
}

async fn run(vms: usize) {
    println!("--- {vms} VMs in pvesim, {STUDENTS} students with 2 VMs each, 1 admin");
    let dir = tempfile::tempdir().unwrap();
    let sim = world::sim(&dir.path().join("pve"), vms);
    let settings = server::Settings {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: format!("sqlite://{}", dir.path().join("b.db").display()).into(),
        secret_key_file: dir.path().join("secret.key"),
        // One client back to back and wrk are far over the per-session limits on purpose.
        limits: server::rate_limit::RateLimitSettings {
            api_per_second: 1_000_000,
            api_burst: 1_000_000,
            ..Default::default()
        },
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

    let mut clients = Vec::new();
    let http = reqwest::Client::builder()
        // Each student's browser keeps its own connection alive between polls.
        .pool_max_idle_per_host(STUDENTS + 1)
        .build()
        .unwrap();
    for cookie in world::signed_in(&services, cluster.id, STUDENTS).await {
        clients.push(Client::first_poll(&http, &url, cookie).await);
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
    wrk_saturation(&url, &clients).await;
    if let Some(rss) = world::status_kb("self", "VmRSS:") {
        println!(
            "RSS of this process (portal + pvesim + client): {}",
            world::mb(rss)
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
