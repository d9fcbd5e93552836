//! A class deployment for the tests that run the real process (crash, scale-out): pvesim with
//! its files in a temporary directory, a portal database with the cluster, a teacher and a
//! launched class whose job waits for a portal to run it; and the check that a finished
//! class has exactly its VMs.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use lab::db::entity::class_vm;
use lab::model::{ClassForm, ClusterForm, Role, VmRole, VmStep};
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Services, auth, classes, clusters};
use pvesim::{Sim, SimConfig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::path::{Path, PathBuf};
use std::process::Command;

pub async fn ready_count(services: &Services, class_id: i32) -> usize {
    class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .filter(class_vm::Column::Step.eq(VmStep::Ready))
        .all(&services.db)
        .await
        .unwrap()
        .len()
}

pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// A portal's database with a pvesim cluster and a launched (not yet deployed) class.
pub struct Setup {
    pub dir: tempfile::TempDir,
    /// pvesim's file tree (`etc/pve`, `var/lib/vz`), where the class's VMs are made.
    pub root: PathBuf,
    pub sim: Sim,
    pub db_url: String,
    pub services: Services,
    pub cluster_id: i32,
    pub class_id: i32,
}

/// Where the class's template lives, and so how its VMs are made.
#[derive(Clone, Copy, PartialEq)]
pub enum Storage {
    /// On `local` (a directory) with pmxcfs's files at hand: overlays made by node commands.
    Files,
    /// On `local-lvm`, the portal not on a node: a stock Proxmox, so Proxmox's clone API
    /// (one clone task per VM, each taking simulated seconds).
    Stock,
}

/// `students` students; on `db_url` (a fresh database), or a new SQLite file.
pub async fn setup(name: &str, students: u32, db_url: Option<String>, storage: Storage) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pve");
    let mut config = SimConfig::for_tests(&root);
    if storage == Storage::Stock {
        config.template_storage = "local-lvm".into();
    }
    let sim = Sim::start(config).unwrap();
    let db_url =
        db_url.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("portal.db").display()));
    let db = lab::db::connect(&db_url).await.unwrap();
    lab::db::migrate(&db).await.unwrap();
    let key = SecretBox::load_or_create(&dir.path().join("secret.key")).unwrap();
    let services = Services::new(db, AuthPolicy::default(), key);
    let mut form =
        ClusterForm::with_token("lab", &sim.url(), sim.fingerprint(), &sim.token()).unwrap();
    if storage == Storage::Files {
        form.pve_root = root.join("etc/pve").display().to_string();
        form.storage_paths = format!("local={}", root.join("var/lib/vz").display());
    } else {
        form.pve_root = "/nonexistent/etc/pve".into();
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
    let teacher = auth::find_user(&services, "teacher")
        .await
        .unwrap()
        .unwrap();
    let class_id = classes::launch(
        &services,
        &teacher,
        &ClassForm {
            name: name.into(),
            cluster_id: cluster.id,
            template_vmid: "9000".into(),
            students: students.to_string(),
            ..ClassForm::default()
        },
    )
    .await
    .unwrap();
    Setup {
        dir,
        root,
        sim,
        db_url,
        services,
        cluster_id: cluster.id,
        class_id,
    }
}

/// The class has exactly its VMs: every row ready, every config and disk once, nothing
/// half-made, every student on a three-level backing chain.
pub async fn assert_exactly_the_class(
    services: &Services,
    root: &Path,
    class_id: i32,
    total: usize,
) {
    let rows = all_ready(services, class_id, total).await;
    let base = rows.iter().map(|r| r.vmid).min().unwrap();
    let mut files = Vec::new();
    files_under(root, &mut files);
    let ours: Vec<&PathBuf> = files
        .iter()
        .filter(|p| {
            let s = p.display().to_string();
            (base..base + 100)
                .any(|v| s.ends_with(&format!("/{v}.conf")) || s.contains(&format!("/images/{v}/")))
                || s.contains(&format!("class-{base}"))
        })
        .collect();
    let configs = ours
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .count();
    let disks = ours
        .iter()
        .filter(|p| p.display().to_string().contains("/images/"))
        .count();
    assert_eq!(configs, total, "{ours:?}");
    assert_eq!(disks, total, "one disk per VM: {ours:?}");
    for p in &files {
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(
            !name.contains(".part") && !name.contains(".tmp.proxlab"),
            "half-made file {p:?}"
        );
    }
    for r in rows.iter().filter(|r| r.role == VmRole::Student) {
        let disk = root.join(format!("var/lib/vz/images/{0}/vm-{0}-disk-0.qcow2", r.vmid));
        let out = Command::new("qemu-img")
            .args(["info", "--backing-chain", "-U"])
            .arg(&disk)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.matches("image:").count(), 3, "{text}");
    }
}

/// The class's VMs in Proxmox are exactly its rows, all ready: none missing, none twice, no
/// VM in the class's VMID block that no row names.
pub async fn assert_exactly_in_proxmox(services: &Services, class_id: i32, total: usize) {
    let rows = all_ready(services, class_id, total).await;
    let base = rows.iter().map(|r| r.vmid).min().unwrap();
    let cluster = clusters::find(services, rows[0].cluster_id).await.unwrap();
    let guests = clusters::client(services, &cluster)
        .unwrap()
        .vm_resources()
        .await
        .unwrap();
    let mut in_block: Vec<i32> = guests
        .iter()
        .map(|g| g.vmid as i32)
        .filter(|v| (base..base + 100).contains(v))
        .collect();
    in_block.sort();
    let mut expected: Vec<i32> = rows.iter().map(|r| r.vmid).collect();
    expected.sort();
    assert_eq!(in_block, expected);
}

/// The class's rows: `total` of them, every one ready.
async fn all_ready(services: &Services, class_id: i32, total: usize) -> Vec<class_vm::Model> {
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .all(&services.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), total);
    assert!(rows.iter().all(|r| r.step == VmStep::Ready), "{rows:?}");
    rows
}
