//! Deployment benchmark (not a test): a 30-student class (32 VMs) and a full 98-student
//! class (100 VMs: the VMID block's limit) against pvesim, real `qemu-img`, on this host and
//! over SSH to a real `sshd` on loopback. Prints wall time, time per VM and node commands
//! per VM. Targets on the 2-core dev machine: 30 VMs ≤ 10 s, 100 VMs ≤ 30 s.
//!
//! `cargo bench -p lab --bench deploy`

#[path = "../tests/support/sshd.rs"]
mod sshd;
#[path = "../tests/support/world.rs"]
mod world;

use lab::classes;
use lab::db::entity::job;
use lab::jobs::{JobSettings, run_until_idle};
use lab::model::{ClassForm, Role};
use sea_orm::EntityTrait;
use std::time::Instant;
use world::{make_user, sim_world};

async fn run(students: u32, over_ssh: bool) {
    let sshd = over_ssh.then(sshd::Sshd::start);
    let w = sim_world(|form| {
        if let Some(s) = &sshd {
            s.fill_cluster_form(form);
        }
    })
    .await;
    let services = &w.services;
    let teacher = make_user(services, "teacher", Role::Teacher).await;
    let form = ClassForm {
        name: "Bench".into(),
        cluster_id: w.cluster_id,
        template_vmid: "9000".into(),
        students: students.to_string(),
        ..ClassForm::default()
    };
    let started = Instant::now();
    let id = classes::launch(services, &teacher, &form).await.unwrap();
    let launched = started.elapsed();
    run_until_idle(services, &JobSettings::default())
        .await
        .unwrap();
    let wall = started.elapsed();
    let detail = classes::detail(services, &teacher, id).await.unwrap();
    assert_eq!(
        detail.progress.done as usize,
        students as usize + 2,
        "{:?}",
        detail.progress
    );
    let jobs = job::Entity::find().all(&services.db).await.unwrap();
    let commands: i64 = jobs.iter().map(|j| j.commands).sum();
    let vms = f64::from(students + 2);
    println!(
        "{:<5} {:>3} VMs: wall {:>6.2} s (plan+launch {:>5.0} ms)  {:>6.0} ms/VM  {:.2} node commands/VM",
        if over_ssh { "ssh" } else { "local" },
        students + 2,
        wall.as_secs_f64(),
        launched.as_secs_f64() * 1e3,
        wall.as_secs_f64() * 1e3 / vms,
        commands as f64 / vms
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    for over_ssh in [false, true] {
        for students in [30, 98] {
            run(students, over_ssh).await;
        }
    }
}
