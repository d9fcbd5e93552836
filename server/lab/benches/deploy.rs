//! Deployment benchmark (not a test): a 30-student class (32 VMs) and a full 98-student
//! class (100 VMs: the VMID block's limit) against pvesim, real `qemu-img`, on this host and
//! over SSH to a real `sshd` on loopback. Prints wall time, time per VM and node commands
//! per VM. Targets on the 2-core dev machine: 30 VMs ≤ 10 s, 100 VMs ≤ 30 s.
//!
//! `cargo bench -p lab --bench deploy`

#[path = "../tests/support/sshd.rs"]
mod sshd;

use lab::db::entity::job;
use lab::deploy::{DeploySettings, run_until_idle};
use lab::model::{ClassForm, ClusterForm, Role};
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Services, auth, classes, clusters};
use pvesim::{Sim, SimConfig};
use sea_orm::EntityTrait;
use std::time::Instant;

async fn run(students: u32, over_ssh: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pve");
    let sim = Sim::start(SimConfig::for_tests(&root)).unwrap();
    let db = lab::db::connect(&format!("sqlite://{}", dir.path().join("b.db").display()))
        .await
        .unwrap();
    lab::db::migrate(&db).await.unwrap();
    let services = Services::new(db, AuthPolicy::default(), SecretBox::ephemeral());
    let mut form = ClusterForm::with_token("lab", &sim.url(), sim.fingerprint(), &sim.token()).unwrap();
    form.pve_root = root.join("etc/pve").display().to_string();
    form.storage_paths = format!("local={}", root.join("var/lib/vz").display());
    let sshd = over_ssh.then(sshd::Sshd::start);
    if let Some(s) = &sshd {
        form.ssh_user = s.user();
        form.ssh_port = s.port().to_string();
        form.ssh_key = s.client_key_pem();
        form.ssh_host_keys = s.host_key_line();
    }
    let cluster = clusters::create(&services, &form).await.unwrap();
    let row = clusters::find(&services, cluster.id).await.unwrap();
    lab::sync::quick::run(&services, &row).await.unwrap();
    auth::create_user(
        &services,
        auth::NewUser {
            username: "teacher".into(),
            display_name: "Teacher".into(),
            email: None,
            role: Role::Teacher,
            password: "correct horse battery".into(),
        },
    )
    .await
    .unwrap();
    let teacher = auth::find_user(&services, "teacher").await.unwrap().unwrap();
    let form = ClassForm {
        name: "Bench".into(),
        cluster_id: cluster.id,
        template_vmid: "9000".into(),
        students: students.to_string(),
        ..ClassForm::default()
    };
    let started = Instant::now();
    let id = classes::launch(&services, &teacher, &form).await.unwrap();
    let launched = started.elapsed();
    run_until_idle(&services, &DeploySettings::default()).await.unwrap();
    let wall = started.elapsed();
    let detail = classes::detail(&services, &teacher, id).await.unwrap();
    assert_eq!(detail.progress.done as usize, students as usize + 2, "{:?}", detail.progress);
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
    drop(sim);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    for over_ssh in [false, true] {
        for students in [30, 98] {
            run(students, over_ssh).await;
        }
    }
}
