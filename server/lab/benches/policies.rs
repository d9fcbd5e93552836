//! Policy benchmark (not a test): one policy tick over 10 000 student VMs in 200 classes
//! (every policy on: idle shutdown, access hours, a quota, a schedule), against a pvesim
//! cluster of 10 000 guests synced into a SQLite file. Prints the first tick (it writes
//! every VM's state row and opens the running VMs' usage runs), the steady ticks' p50/p99
//! (30 s apart on the portal's clock, as the worker runs them),
//! and the Proxmox calls the ticks made (the goal: none beyond the acts themselves).
//!
//! `cargo bench -p lab --bench policies`

#[path = "support/big_cluster.rs"]
mod big_cluster;

use big_cluster::{BigCluster, big_cluster};
use lab::db::entity::{assignment, class, class_schedule, class_vm, user};
use lab::model::{ClassPolicy, DeployMethod, VmRole, VmStep};
use lab::policies::tick;
use lab::{inventory, sync};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use std::time::Instant;

const CLASSES: usize = 200;
const PER_CLASS: usize = 50;

#[tokio::main]
async fn main() {
    let vms = CLASSES * PER_CLASS;
    let BigCluster {
        dir: _dir,
        sim,
        mut services,
        cluster,
    } = big_cluster(vms).await;
    // Ticks 30 s apart, as the worker runs them, without waiting 30 s each.
    services.clock = lab::clock::Clock::adjustable();
    sync::quick::run(&services, &cluster).await.unwrap();
    let vmids = inventory::first_vms(&services, cluster.id, vms as u64)
        .await
        .unwrap();
    assert_eq!(vmids.len(), vms, "pvesim seeded every guest");

    let mut policy = ClassPolicy::default();
    policy.idle.enabled = true;
    // Open all day, split in two ranges (so every tick checks them, whatever day the bench
    // runs, without a class-wide shutdown in the middle of the figures).
    policy.hours = lab::model::AccessHours::parse("daily 00:00-12:00\ndaily 12:00-24:00").unwrap();
    policy.quota_hours = 40;
    policy.timezone = "Europe/London".into();
    let policy = serde_json::to_string(&policy).unwrap();
    let started = Instant::now();
    let teacher = insert_user(&services.db, "teacher", "teacher").await;
    for c in 0..CLASSES {
        let class_id = class::Entity::insert(class::ActiveModel {
            name: Set(format!("class {c}")),
            description: Set(String::new()),
            cluster_id: Set(cluster.id),
            owner_id: Set(teacher),
            vmid_base: Set(100_000 + c as i32 * 100),
            students: Set(PER_CLASS as i32),
            storage: Set("local-lvm".into()),
            state: Set("ready".into()),
            export_paths: Set(String::new()),
            created_at: Set(0),
            ssh_enabled: Set(false),
            method: Set(DeployMethod::LinkedClone),
            policy: Set(Some(policy.clone())),
            ..Default::default()
        })
        .exec(&services.db)
        .await
        .unwrap()
        .last_insert_id;
        class_schedule::Entity::insert(class_schedule::ActiveModel {
            class_id: Set(class_id),
            action: Set("shutdown".into()),
            days: Set(0x1f),
            date: Set(None),
            // A stop at 03:00 on weekdays: announced and done only if the bench runs then.
            time_min: Set(3 * 60),
            last_fired_at: Set(None),
            created_at: Set(0),
            ..Default::default()
        })
        .exec(&services.db)
        .await
        .unwrap();
        let mut rows = Vec::new();
        let mut owners = Vec::new();
        for (i, vmid) in vmids[c * PER_CLASS..(c + 1) * PER_CLASS].iter().enumerate() {
            let u = insert_user(&services.db, &format!("c{c}s{i}"), "student").await;
            rows.push(class_vm::ActiveModel {
                class_id: Set(class_id),
                cluster_id: Set(cluster.id),
                vmid: Set(*vmid),
                role: Set(VmRole::Student),
                name: Set(format!("vm{vmid}")),
                node: Set("pve1".into()),
                step: Set(VmStep::Ready),
                attempts: Set(1),
                macs: Set(String::new()),
                disks: Set(String::new()),
                updated_at: Set(0),
                ..Default::default()
            });
            owners.push(assignment::ActiveModel {
                user_id: Set(u),
                cluster_id: Set(cluster.id),
                vmid: Set(*vmid),
                created_at: Set(0),
                ..Default::default()
            });
        }
        class_vm::Entity::insert_many(rows)
            .exec_without_returning(&services.db)
            .await
            .unwrap();
        assignment::Entity::insert_many(owners)
            .exec_without_returning(&services.db)
            .await
            .unwrap();
    }
    println!(
        "--- {vms} student VMs in {CLASSES} classes (set up in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    // Two quick syncs: the activity figures need two samples for a rate.
    sync::quick::run(&services, &cluster).await.unwrap();
    let mut memory = tick::Memory::default();
    let t = Instant::now();
    let first = tick::tick(&services, cluster.id, &mut memory)
        .await
        .unwrap();
    println!(
        "first tick (writes {} VM states)               {:>8.1} ms",
        first.vms,
        t.elapsed().as_secs_f64() * 1e3
    );
    sim.control().reset_counters();
    let mut times = Vec::new();
    for _ in 0..20 {
        services.clock.advance(30);
        let t = Instant::now();
        let r = tick::tick(&services, cluster.id, &mut memory)
            .await
            .unwrap();
        times.push(t.elapsed());
        assert_eq!(r.vms, vms);
    }
    let calls: u64 = sim.control().counters().values().sum();
    times.sort();
    println!(
        "steady tick, n={}                               p50 {:>8.1} ms  p99 {:>8.1} ms",
        times.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    println!(
        "Proxmox calls made by those ticks: {calls} (the idle figures come from the quick sync)"
    );
}

/// A user row without a real password (nobody signs in here).
async fn insert_user(db: &DatabaseConnection, name: &str, role: &str) -> i32 {
    user::Entity::insert(user::ActiveModel {
        username: Set(name.into()),
        display_name: Set(name.into()),
        role: Set(role.into()),
        password_hash: Set("x".into()),
        disabled: Set(false),
        created_at: Set(0),
        ..Default::default()
    })
    .exec(db)
    .await
    .unwrap()
    .last_insert_id
}
