//! The portal's memory at scale, measured on the real process: pvesim (in this process) holds
//! N VMs, `proxlab serve` runs as a child on its own SQLite file with the cluster connected,
//! its sync workers doing what they do all day (a quick sync every 5 s, a full sync every
//! 60 s), while an admin and 50 students poll their dashboards every 2 s. The child's RSS is
//! sampled every second; printed are the range every 15 s, the median and the peak (`VmHWM`). Only the portal's process is measured: the simulator and the pollers
//! live in this one.
//!
//! `cargo bench -p server --bench portal_rss [-- 10000 [seconds]]`
//! The portal tunes glibc's malloc for itself (`server::malloc`) unless `MALLOC_ARENA_MAX` or
//! `MALLOC_MMAP_THRESHOLD_` is set: `MALLOC_ARENA_MAX=0` measures glibc's defaults.

use lab::model::ClusterForm;
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Services};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

#[path = "../tests/support/portal.rs"]
mod portal;
#[path = "support/world.rs"]
mod world;

const STUDENTS: usize = 50;

fn start_portal(dir: &Path, db_url: &str, port: u16) -> Child {
    portal::serve(dir, db_url, &format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap()
}

async fn run(vms: usize, seconds: u64) {
    let dir = tempfile::tempdir().unwrap();
    let sim = world::sim(&dir.path().join("pve"), vms);
    let db_url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let db = lab::db::connect(&db_url).await.unwrap();
    lab::db::migrate(&db).await.unwrap();
    let key = SecretBox::load_or_create(&dir.path().join("secret.key")).unwrap();
    let services = Services::new(db, AuthPolicy::default(), key);
    let form =
        ClusterForm::with_token("bench", &sim.url(), sim.fingerprint(), &sim.token()).unwrap();
    let cluster = lab::clusters::create(&services, &form).await.unwrap();
    // The inventory as a portal that has been running finds it: every VM known.
    let row = lab::clusters::find(&services, cluster.id).await.unwrap();
    lab::sync::quick::run(&services, &row).await.unwrap();
    let cookies = world::signed_in(&services, cluster.id, STUDENTS).await;
    drop(services);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut portal = start_portal(dir.path(), &db_url, port);
    let pid = portal.id().to_string();
    let url = format!("http://127.0.0.1:{port}/api/vms");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the portal did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let pollers: Vec<_> = cookies
        .into_iter()
        .enumerate()
        .map(|(i, cookie)| {
            let (http, url) = (http.clone(), url.clone());
            let phase = Duration::from_millis(2000 * i as u64 / (STUDENTS as u64 + 1));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval_at(
                    tokio::time::Instant::now() + phase,
                    Duration::from_secs(2),
                );
                loop {
                    tick.tick().await;
                    let res = http.post(&url).header("cookie", &cookie).send().await;
                    assert!(res.is_ok_and(|r| r.status().is_success()));
                }
            })
        })
        .collect();

    println!(
        "--- {vms} VMs in pvesim; the portal syncs them, an admin and {STUDENTS} students poll every 2 s (MALLOC_ARENA_MAX={})",
        std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "1, the portal's own tuning".into())
    );
    let mut samples = Vec::new();
    for s in 1..=seconds {
        tokio::time::sleep_until((started + Duration::from_secs(s)).into()).await;
        let rss = world::status_kb(&pid, "VmRSS:").expect("the portal is running");
        samples.push(rss);
        // The quick sync (every 5 s) allocates and frees: show the range, not one phase.
        if s % 15 == 0 || s == seconds {
            let window = &samples[samples.len().saturating_sub(15)..];
            println!(
                "after {s:>3} s: RSS {} (last 15 s: {} to {})",
                world::mb(rss),
                world::mb(*window.iter().min().unwrap()),
                world::mb(*window.iter().max().unwrap())
            );
        }
    }
    let peak = world::status_kb(&pid, "VmHWM:").unwrap();
    samples.sort_unstable();
    println!(
        "RSS over {seconds} s: median {}, max sampled {}, peak (VmHWM) {}",
        world::mb(samples[samples.len() / 2]),
        world::mb(*samples.last().unwrap()),
        world::mb(peak)
    );
    println!(
        "at the end: anonymous {} (heap, stacks), file-backed {} (the binary's pages in use)",
        world::mb(world::status_kb(&pid, "RssAnon:").unwrap()),
        world::mb(world::status_kb(&pid, "RssFile:").unwrap())
    );
    for p in pollers {
        p.abort();
    }
    portal.kill().unwrap();
    portal.wait().unwrap();
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let vms = args.first().copied().unwrap_or(10_000) as usize;
    let seconds = args.get(1).copied().unwrap_or(75);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(vms, seconds));
}
