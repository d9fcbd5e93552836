//! Inventory benchmarks (not tests): dashboard reads at 2 000 and 10 000 VMs for one client
//! and for 500 concurrent pollers (full page and "no change"), and the syncs against pvesim
//! with no added latency (quick sync, first and idle full sync, Proxmox calls per idle cycle).
//!
//! `cargo bench -p lab --bench inventory` (prints figures; nothing is asserted).

#[path = "support/big_cluster.rs"]
mod big_cluster;

use big_cluster::{BigCluster, big_cluster};
use lab::db::entity::{assignment, user};
use lab::model::{Role, VmFilter};
use lab::{Services, auth, inventory, sync};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, mut samples: Vec<Duration>, wall: Duration) {
    samples.sort();
    println!(
        "{label:<48} n={:>6}  p50 {:>8.3} ms  p99 {:>8.3} ms  {:>8.0} req/s",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.len() as f64 / wall.as_secs_f64()
    );
}

async fn pollers(
    services: &Services,
    users: &[user::Model],
    since: bool,
    rounds: usize,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for u in users {
        let (services, u) = (services.clone(), u.clone());
        tasks.spawn(async move {
            let counter = inventory::counter(&services, &u).await.unwrap();
            let mut times = Vec::new();
            for _ in 0..rounds {
                let t = Instant::now();
                let since = since.then_some(counter);
                let page = inventory::dashboard(&services, &u, &VmFilter::default(), since)
                    .await
                    .unwrap();
                assert_eq!(page.is_none(), since.is_some());
                times.push(t.elapsed());
            }
            times
        });
    }
    let mut all = Vec::new();
    while let Some(times) = tasks.join_next().await {
        all.extend(times.unwrap());
    }
    (all, started.elapsed())
}

async fn run(vms: usize) {
    println!("--- {vms} VMs");
    let BigCluster {
        dir: _dir,
        sim,
        services,
        cluster,
    } = big_cluster(vms).await;

    let t = Instant::now();
    let first = sync::quick::run(&services, &cluster).await.unwrap();
    println!(
        "quick sync, first (inserts {:>5})                {:>8.1} ms",
        first.added,
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    sync::quick::run(&services, &cluster).await.unwrap();
    println!(
        "quick sync, nothing changed                       {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let full = sync::full::run(&services, &cluster, None).await.unwrap();
    println!(
        "full sync, first ({:>5} configs, {:>5} calls)      {:>8.1} ms",
        full.configs,
        full.calls,
        t.elapsed().as_secs_f64() * 1e3
    );
    sim.control().reset_counters();
    let t = Instant::now();
    let idle = sync::full::run(&services, &cluster, None).await.unwrap();
    sync::quick::run(&services, &cluster).await.unwrap();
    let calls: u64 = sim.control().counters().values().sum();
    println!(
        "idle full sync ({} calls) + quick sync              {:>8.1} ms",
        idle.calls,
        t.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "Proxmox calls per idle minute (quick 5 s, full 60 s): {}  (one idle quick+full cycle = {calls})",
        12 + idle.calls
    );

    // 500 students with 2 VMs each, and one admin.
    let mut students = Vec::new();
    let vmids = inventory::first_vms(&services, cluster.id, 1000)
        .await
        .unwrap();
    let hash = auth::hash_password("bench password 1").await.unwrap();
    for i in 0..500 {
        let u = user::ActiveModel {
            username: Set(format!("s{i}")),
            display_name: Set(format!("s{i}")),
            role: Set("student".into()),
            password_hash: Set(hash.clone()),
            disabled: Set(false),
            created_at: Set(0),
            ..Default::default()
        };
        let u = user::Entity::insert(u)
            .exec_with_returning(&services.db)
            .await
            .unwrap();
        for vmid in vmids.iter().skip(2 * i).take(2) {
            assignment::Entity::insert(assignment::ActiveModel {
                user_id: Set(u.id),
                cluster_id: Set(cluster.id),
                vmid: Set(*vmid),
                created_at: Set(0),
                ..Default::default()
            })
            .exec_without_returning(&services.db)
            .await
            .unwrap();
        }
        students.push(u);
    }
    auth::create_user(
        &services,
        auth::NewUser {
            username: "boss".into(),
            display_name: String::new(),
            email: None,
            role: Role::Admin,
            password: "bench password 1".into(),
        },
    )
    .await
    .unwrap();
    let admin = user::Entity::find()
        .filter(user::Column::Username.eq("boss"))
        .one(&services.db)
        .await
        .unwrap()
        .unwrap();

    let (one, wall) = pollers(&services, &students[..1], false, 300).await;
    report("student dashboard, 1 client", one, wall);
    let (one, wall) = pollers(&services, std::slice::from_ref(&admin), false, 100).await;
    report("admin dashboard (page 1 of all), 1 client", one, wall);
    let (one, wall) = pollers(&services, &students[..1], true, 300).await;
    report("\"no change\" poll, 1 client", one, wall);
    let (many, wall) = pollers(&services, &students, false, 4).await;
    report("student dashboard, 500 concurrent clients", many, wall);
    let (many, wall) = pollers(&services, &students, true, 10).await;
    report("\"no change\" poll, 500 concurrent clients", many, wall);
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for vms in [2000, 10_000] {
        rt.block_on(run(vms));
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM"))
    {
        println!(
            "peak RSS of this process (simulator included): {}",
            line.split_whitespace().nth(1).unwrap_or("?").to_owned() + " kB"
        );
    }
}
