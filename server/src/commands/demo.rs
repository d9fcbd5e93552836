//! `proxlab demo`: the whole product with one command and no Proxmox. It starts `pvesim` in
//! this process as a stock install looks (3 nodes with `local` and `local-lvm`, VMs,
//! templates on `local-lvm`, containers, ISOs), a fresh SQLite database, demo
//! accounts with printed passwords, the simulated cluster (token and pinned fingerprint, as
//! an admin would add it), a first sync, and direct VM assignments; then it serves as usual.

use crate::cli::Demo;
use crate::commands::leptos_options;
use crate::router::{self, start};
use crate::settings::Settings;
use anyhow::Context;
use lab::model::{ClusterForm, Role};
use lab::{Services, auth::NewUser};
use pvesim::{SeedDisks, Sim, SimConfig};
use secrecy::SecretString;
use std::time::Duration;

pub async fn demo(mut settings: Settings, demo: Demo) -> anyhow::Result<()> {
    let (dir, _temp) = match demo.dir {
        Some(dir) => (dir, None),
        None => {
            let temp = tempfile::Builder::new().prefix("proxlab-demo-").tempdir()?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    std::fs::create_dir_all(&dir)?;
    let sim = Sim::start(SimConfig {
        root: dir.join("pvesim"),
        vms: demo.vms,
        templates: 4,
        containers: 3,
        unauthorized_delay: Duration::from_millis(300),
        task_time_scale: 0.3,
        agent_boot_delay: Duration::from_secs(4),
        seed_disks: SeedDisks::TemplatesOnly,
        ..SimConfig::default()
    })
    .context("starting the Proxmox simulator")?;
    settings.database_url =
        SecretString::from(format!("sqlite://{}", dir.join("proxlab.db").display()));
    settings.secret_key_file = dir.join("secret.key");
    settings.secret_key = None;
    settings.sync.quick_secs = 2;
    settings.sync.full_secs = 30;
    let portal = start(&settings, leptos_options()?).await?;
    let accounts = seed(&portal.services, &sim, &dir.join("pvesim")).await?;
    println!(
        "Proxlab demo: a simulated Proxmox cluster at {} (files in {}).",
        sim.url(),
        dir.display()
    );
    println!(
        "Its certificate has the SHA-256 fingerprint {}",
        sim.fingerprint()
    );
    println!("Sign in at {}/ as:", portal.url);
    for (name, role, password) in &accounts {
        println!("  {name:<10} {password}   ({role})");
    }
    println!(
        "Proxmox accounts sign in too (the cluster maps its groups admin, teachers and \
         students to roles):"
    );
    println!("  root@pam / {}   (admin)", sim.root_password());
    println!(
        "  teacher1@pve / {0}   (teacher)\n  student1@pve / {0}   (student)",
        sim.user_password()
    );
    tracing::info!(url = %portal.url, "serving the demo");
    router::serve(portal).await
}

/// Demo accounts, the simulated cluster, a first sync and direct assignments. Returns
/// (username, role, password) of each account.
async fn seed(
    services: &Services,
    sim: &Sim,
    sim_root: &std::path::Path,
) -> anyhow::Result<Vec<(String, Role, String)>> {
    let mut accounts = Vec::new();
    for (name, role) in [
        ("admin", Role::Admin),
        ("teacher", Role::Teacher),
        ("student1", Role::Student),
        ("student2", Role::Student),
        ("student3", Role::Student),
    ] {
        let password = demo_password();
        lab::auth::create_user(
            services,
            NewUser {
                username: name.into(),
                display_name: String::new(),
                email: None,
                role,
                password: password.clone(),
            },
        )
        .await?;
        accounts.push((name.to_owned(), role, password));
    }
    lab::auth::issue_setup_token(services).await?;
    let mut form =
        ClusterForm::with_token("Demo cluster", &sim.url(), sim.fingerprint(), &sim.token())
            .context("pvesim's token")?;
    // A stock layout: templates on `local-lvm` (LVM-thin), so classes are made by Proxmox's
    // own clones through the API, as a school's will be. The simulator's files stand in for
    // pmxcfs and `local`.
    let root = sim_root.display();
    form.pve_root = format!("{root}/etc/pve");
    form.storage_paths = format!("local={root}/var/lib/vz");
    // pvesim's groups, mapped as a school would: nobody is an admin just for having a
    // Proxmox account.
    form.admin_group = "admin".into();
    form.teacher_group = "teachers".into();
    form.student_group = "students".into();
    // The simulated guests' addresses (their guest agents report 10.20.x.y).
    form.vm_subnets = "10.20.0.0/16".into();
    let cluster = lab::clusters::create(services, &form).await?;
    let row = lab::clusters::find(services, cluster.id).await?;
    lab::sync::quick::run(services, &row).await?;
    lab::sync::full::run(services, &row, None).await?;
    // Two VMs for student1, one each for the others and the teacher: the first ordinary
    // (non-template) QEMU guests, in VMID order.
    let vmids = lab::inventory::first_vms(services, cluster.id, 5).await?;
    for (vmid, user) in vmids
        .iter()
        .zip(["student1", "student1", "student2", "student3", "teacher"])
    {
        lab::inventory::assign(services, cluster.id, *vmid, user).await?;
    }
    Ok(accounts)
}

/// Easy to type, hard to guess: three groups of four letters.
fn demo_password() -> String {
    const LETTERS: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("OS random source");
    let letters: Vec<char> = bytes
        .iter()
        .map(|b| LETTERS[*b as usize % LETTERS.len()] as char)
        .collect();
    letters
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}
