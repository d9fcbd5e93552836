//! Job engine benchmarks (not tests), against pvesim and real `qemu-img`, on this host and
//! over SSH to a real `sshd` on loopback:
//!
//! 1. one class of 30 and of 98 students (32 and 100 VMs): wall time, time per VM, node
//!    commands per VM;
//! 2. ten classes of 10 VMs launched at once (4 workers): wall time, and the time until the
//!    first VM of each class is ready;
//! 3. a student's reset asked for while a 98-student class deploys: time to done, against
//!    the same reset with nothing else running;
//! 4. the Proxmox-clone path on LVM-thin and Ceph RBD (see `deploy/clones.rs`).
//!
//! `cargo bench -p lab --bench deploy`

#[path = "deploy/clones.rs"]
mod clones;
#[path = "../tests/support/sshd.rs"]
mod sshd;
#[path = "../tests/support/world.rs"]
mod world;

use lab::db::entity::{class_vm, job, user};
use lab::jobs::{
    FaultAction, Faults, JobSettings, run_until_idle, spawn_workers, spawn_workers_with,
};
use lab::model::{ClassForm, JobState, Role, VmRole};
use lab::{Services, classes};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use world::{SimWorld, make_user, sim_world};

async fn world(over_ssh: bool) -> (SimWorld, Option<sshd::Sshd>) {
    let sshd = over_ssh.then(sshd::Sshd::start);
    let w = sim_world(|form| {
        if let Some(s) = &sshd {
            s.fill_cluster_form(form);
        }
    })
    .await;
    (w, sshd)
}

fn form(w: &SimWorld, name: &str, students: u32) -> ClassForm {
    ClassForm {
        name: name.into(),
        cluster_id: w.cluster_id,
        template_vmid: "9000".into(),
        students: students.to_string(),
        ..ClassForm::default()
    }
}

fn transport(over_ssh: bool) -> &'static str {
    if over_ssh { "ssh" } else { "local" }
}

/// 1. One class, run to the end by `run_until_idle`.
async fn one_class(students: u32, over_ssh: bool) {
    let (w, _sshd) = world(over_ssh).await;
    let services = &w.services;
    let teacher = make_user(services, "teacher", Role::Teacher).await;
    let started = Instant::now();
    let id = classes::launch(services, &teacher, &form(&w, "Bench", students))
        .await
        .unwrap();
    let launched = started.elapsed();
    run_until_idle(services, &JobSettings::default())
        .await
        .unwrap();
    let wall = started.elapsed();
    let detail = classes::detail(services, &teacher, id).await.unwrap();
    assert_eq!(detail.progress.done as usize, students as usize + 2);
    let jobs = job::Entity::find().all(&services.db).await.unwrap();
    let commands: i64 = jobs.iter().map(|j| j.commands).sum();
    let vms = f64::from(students + 2);
    println!(
        "one class   {:<5} {:>3} VMs: wall {:>6.2} s (plan+launch {:>4.0} ms)  {:>5.0} ms/VM  {:.2} node commands/VM",
        transport(over_ssh),
        students + 2,
        wall.as_secs_f64(),
        launched.as_secs_f64() * 1e3,
        wall.as_secs_f64() * 1e3 / vms,
        commands as f64 / vms
    );
}

/// Polls until no job is unfinished.
async fn wait_idle(services: &Services) {
    loop {
        let active = job::Entity::find()
            .filter(job::Column::State.is_in(JobState::ACTIVE))
            .all(&services.db)
            .await
            .unwrap();
        if active.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// 2. Ten classes of ten VMs at once, four workers.
async fn ten_classes(over_ssh: bool) {
    let (w, _sshd) = world(over_ssh).await;
    let services = &w.services;
    let teacher = make_user(services, "teacher", Role::Teacher).await;
    // job id → when its first VM step ended (the point before the "ready" write).
    let first_ready: Arc<Mutex<HashMap<i32, Instant>>> = Arc::default();
    let seen = first_ready.clone();
    let faults = Faults::new(move |p| {
        if p.label == "vm ready" {
            seen.lock()
                .unwrap()
                .entry(p.job_id)
                .or_insert_with(Instant::now);
        }
        FaultAction::Go
    });
    let started = Instant::now();
    for i in 0..10 {
        classes::launch(services, &teacher, &form(&w, &format!("Ten {i}"), 8))
            .await
            .unwrap();
    }
    spawn_workers_with(
        services,
        JobSettings::default(),
        Duration::from_secs(20),
        faults,
    );
    services.jobs.wake();
    wait_idle(services).await;
    let wall = started.elapsed();
    services.shut_down(Duration::from_secs(20)).await;
    let firsts: Vec<f64> = first_ready
        .lock()
        .unwrap()
        .values()
        .map(|t| t.duration_since(started).as_secs_f64())
        .collect();
    assert_eq!(firsts.len(), 10);
    let ready = class_vm::Entity::find().all(&services.db).await.unwrap();
    assert_eq!(ready.len(), 100);
    let (min, max) = firsts
        .iter()
        .fold((f64::MAX, 0f64), |(a, b), t| (a.min(*t), b.max(*t)));
    println!(
        "10 classes  {:<5} 100 VMs: wall {:>6.2} s  first VM of each class ready after {:.2}-{:.2} s (mean {:.2} s)",
        transport(over_ssh),
        wall.as_secs_f64(),
        min,
        max,
        firsts.iter().sum::<f64>() / 10.0
    );
}

/// Asks for a reset of the student VM of class `id` and waits for it: seconds.
async fn timed_reset(services: &Services, id: i32) -> f64 {
    let vm = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(id))
        .filter(class_vm::Column::Role.eq(VmRole::Student))
        .one(&services.db)
        .await
        .unwrap()
        .unwrap();
    let asked = Instant::now();
    let teacher = user::Entity::find()
        .filter(user::Column::Username.eq("teacher"))
        .one(&services.db)
        .await
        .unwrap()
        .unwrap();
    classes::request_reset(services, &teacher, vm.cluster_id, vm.vmid)
        .await
        .unwrap();
    loop {
        let last = job::Entity::find()
            .filter(job::Column::ClassId.eq(id))
            .order_by_desc(job::Column::Id)
            .one(&services.db)
            .await
            .unwrap()
            .unwrap();
        if !last.state.is_active() {
            assert_eq!(last.state, JobState::Done, "{last:?}");
            return asked.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// 3. A reset while a 98-student class deploys, and alone.
async fn reset_behind_deploy(over_ssh: bool) {
    let (w, _sshd) = world(over_ssh).await;
    let services = &w.services;
    let teacher = make_user(services, "teacher", Role::Teacher).await;
    let small = classes::launch(services, &teacher, &form(&w, "Small", 1))
        .await
        .unwrap();
    run_until_idle(services, &JobSettings::default())
        .await
        .unwrap();
    spawn_workers(services, JobSettings::default(), Duration::from_secs(20));
    let alone = timed_reset(services, small).await;
    let big = classes::launch(services, &teacher, &form(&w, "Big", 98))
        .await
        .unwrap();
    services.jobs.wake();
    // Once the deployment is well under way (10 VMs made)…
    loop {
        let made = class_vm::Entity::find()
            .filter(class_vm::Column::ClassId.eq(big))
            .filter(class_vm::Column::Step.eq(lab::model::VmStep::Ready))
            .all(&services.db)
            .await
            .unwrap()
            .len();
        if made >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let behind = timed_reset(services, small).await;
    let still_deploying = job::Entity::find()
        .filter(job::Column::ClassId.eq(big))
        .one(&services.db)
        .await
        .unwrap()
        .unwrap()
        .state
        .is_active();
    wait_idle(services).await;
    services.shut_down(Duration::from_secs(20)).await;
    println!(
        "reset       {:<5}: alone {:>5.0} ms, during a 100-VM deploy {:>5.0} ms ({:.1}x; deploy still running when it ended: {still_deploying})",
        transport(over_ssh),
        alone * 1e3,
        behind * 1e3,
        behind / alone
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `-- reset`: only the two ways of resetting a cloned VM.
    if std::env::args().any(|a| a == "reset") {
        clones::reset_two_ways().await;
        return;
    }
    for storage in ["local-lvm", "ceph"] {
        for students in [30, 98] {
            clones::clone_class(students, storage).await;
        }
    }
    for students in [30, 96] {
        clones::clone_class_base_per_node(students).await;
    }
    clones::reset_two_ways().await;
    if std::env::args().any(|a| a == "clones") {
        return;
    }
    for over_ssh in [false, true] {
        for students in [30, 98] {
            one_class(students, over_ssh).await;
        }
        ten_classes(over_ssh).await;
        reset_behind_deploy(over_ssh).await;
    }
}
