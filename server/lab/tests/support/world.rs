//! A pvesim cluster with its files under a temporary folder, a fresh SQLite database and
//! the `Services` over them, with the cluster added (storage paths and pmxcfs pointing into
//! the simulator's folder) and synced once. Shared by integration tests and benchmarks.

#![allow(dead_code)] // each test binary uses a different part

use lab::db::entity::user;
use lab::model::{ClusterForm, Role};
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Services, auth, clusters};
use pvesim::{Sim, SimConfig};
use std::path::PathBuf;

pub struct SimWorld {
    pub dir: tempfile::TempDir,
    pub sim: Sim,
    pub services: Services,
    pub cluster_id: i32,
    /// The simulator's root: `etc/pve`, `var/lib/vz`, `mnt/pve/shared`.
    pub root: PathBuf,
    /// The database's URL, for a second `Services` (another process) on the same data.
    pub db_url: String,
}

/// `edit` may change the cluster form before it is saved (e.g. SSH settings).
pub async fn sim_world(edit: impl FnOnce(&mut ClusterForm)) -> SimWorld {
    sim_world_on(None, edit).await
}

/// [`sim_world`] on the database at `db_url` (a fresh PostgreSQL database), or on a new
/// SQLite file when `None`.
pub async fn sim_world_on(db_url: Option<String>, edit: impl FnOnce(&mut ClusterForm)) -> SimWorld {
    sim_world_with(db_url, |_| {}, edit).await
}

/// [`sim_world_on`] with the simulator's config changed by `sim` first (its storages, where
/// the template lives).
pub async fn sim_world_with(
    db_url: Option<String>,
    sim: impl FnOnce(&mut SimConfig),
    edit: impl FnOnce(&mut ClusterForm),
) -> SimWorld {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pve");
    let mut config = SimConfig::for_tests(&root);
    sim(&mut config);
    let sim = Sim::start(config).unwrap();
    let url = db_url.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("t.db").display()));
    let db = lab::db::connect(&url).await.unwrap();
    let db_url = url;
    lab::db::migrate(&db).await.unwrap();
    let services = Services::new(db, AuthPolicy::default(), SecretBox::ephemeral());
    let mut form =
        ClusterForm::with_token("lab", &sim.url(), sim.fingerprint(), &sim.token()).unwrap();
    form.pve_root = root.join("etc/pve").display().to_string();
    form.storage_paths = format!(
        "local={}\nshared={}",
        root.join("var/lib/vz").display(),
        root.join("mnt/pve/shared").display()
    );
    edit(&mut form);
    let view = clusters::create(&services, &form).await.unwrap();
    let cluster = clusters::find(&services, view.id).await.unwrap();
    lab::sync::quick::run(&services, &cluster).await.unwrap();
    SimWorld {
        dir,
        sim,
        services,
        cluster_id: view.id,
        root,
        db_url,
    }
}

impl SimWorld {
    /// A call to pvesim's API as root (its token), for changing users, groups and ACLs;
    /// asserts success and returns the body.
    pub async fn pve_as_root(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> serde_json::Value {
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let res = client
            .request(method, format!("{}/api2/json/{path}", self.sim.url()))
            .header("Authorization", format!("PVEAPIToken={}", self.sim.token()))
            .form(form)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// Waits for a task (its node is in the UPID), polling every 20 ms; asserts it ended OK.
    pub async fn wait_task(&self, upid: &str) {
        let node = upid.split(':').nth(1).unwrap();
        loop {
            let s = self
                .pve_as_root(
                    reqwest::Method::GET,
                    &format!("nodes/{node}/tasks/{upid}/status"),
                    &[],
                )
                .await;
            if s["data"]["status"] == "stopped" {
                assert_eq!(s["data"]["exitstatus"], "OK", "{s}");
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Every file under the simulator's root (configs, disks, exports), sorted.
    pub fn all_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut all = Vec::new();
        walk(&self.root, &mut all);
        all.sort();
        all
    }

    /// Every file that names a VMID of the block at `base` (configs, disks) or is in the
    /// class's export folder.
    pub fn files_of_block(&self, base: i32) -> Vec<PathBuf> {
        self.all_files()
            .into_iter()
            .filter(|p| {
                let s = p.display().to_string();
                (base..base + 100).any(|v| {
                    s.contains(&format!("/{v}.conf")) || s.contains(&format!("/images/{v}/"))
                }) || s.contains(&format!("class-{base}"))
            })
            .collect()
    }
}

/// The job engine as the class tests run it: two workers, four steps per node, two tries.
pub fn job_settings() -> lab::jobs::JobSettings {
    lab::jobs::JobSettings {
        workers: 2,
        per_node: 4,
        attempts: 2,
        lease_secs: 60,
    }
}

pub async fn make_user(services: &Services, name: &str, role: Role) -> user::Model {
    auth::create_user(
        services,
        auth::NewUser {
            username: name.into(),
            display_name: name.into(),
            email: None,
            role,
            password: "correct horse battery".into(),
        },
    )
    .await
    .unwrap();
    auth::find_user(services, name).await.unwrap().unwrap()
}

/// Runs the queued jobs in a runner that dies at the `k`-th crash point (0-based) it reaches,
/// as another process would: its own database connections, dropped when it dies (rolling
/// back what they held open). Returns the point it died at.
pub async fn crash_runner_at(
    w: &SimWorld,
    k: usize,
    settings: &lab::jobs::JobSettings,
) -> lab::jobs::FaultPoint {
    use lab::jobs::{FaultAction, Faults, run_until_idle_with};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let count = Arc::new(AtomicUsize::new(0));
    let crashed = Arc::new(Mutex::new(None));
    let (count2, crashed2) = (count.clone(), crashed.clone());
    let faults = Faults::new(move |p| {
        if count2.fetch_add(1, Ordering::SeqCst) == k {
            *crashed2.lock().unwrap() = Some(p.clone());
            FaultAction::Crash
        } else {
            FaultAction::Go
        }
    });
    let dying = Services::new(
        lab::db::connect(&w.db_url).await.unwrap(),
        AuthPolicy::default(),
        w.services.secrets.clone(),
    );
    run_until_idle_with(&dying, settings, faults).await.unwrap();
    dying.db.clone().close().await.unwrap();
    drop(dying);
    let at = crashed.lock().unwrap().clone();
    at.expect("the crash point was reached")
}

/// A class `name` of `students` VMs from template 9000, launched by `teacher` and made, with
/// users `student0..` joined: (class id, (student, VMID) in VMID order).
pub async fn class_with_students(
    w: &SimWorld,
    teacher: &user::Model,
    name: &str,
    students: u32,
) -> (i32, Vec<(user::Model, i32)>) {
    use lab::classes;
    use lab::db::entity::class;
    use sea_orm::EntityTrait;
    let form = lab::model::ClassForm {
        name: name.into(),
        cluster_id: w.cluster_id,
        template_vmid: "9000".into(),
        students: students.to_string(),
        invite_days: "7".into(),
        ..Default::default()
    };
    let class_id = classes::launch(&w.services, teacher, &form).await.unwrap();
    lab::jobs::run_until_idle(&w.services, &job_settings())
        .await
        .unwrap();
    let token = class::Entity::find_by_id(class_id)
        .one(&w.services.db)
        .await
        .unwrap()
        .unwrap()
        .invite_token
        .unwrap();
    let mut joined = Vec::new();
    for i in 0..students {
        let s = make_user(&w.services, &format!("student{i}"), Role::Student).await;
        let (_, vmid) = classes::join(&w.services, &s, &token).await.unwrap();
        joined.push((s, vmid));
    }
    joined.sort_by_key(|(_, v)| *v);
    (class_id, joined)
}
