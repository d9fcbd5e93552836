//! Crash safety with a real process: the portal (`proxlab serve`) is killed with SIGKILL in
//! the middle of a class deployment, again and again, and restarted on the same SQLite file.
//! The class must end with exactly the requested VMs: every config and disk once, nothing
//! half-made (`.part`, `.tmp`), every student on a three-level backing chain.
//!
//! The test process plays the teacher (it writes the launch through `lab`, as the server
//! function would) and hosts pvesim, whose files the portal's node operations write.

use lab::db::entity::{class_vm, job};
use lab::model::{ClassForm, ClusterForm, JobState, Role, VmRole, VmStep};
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Services, auth, classes, clusters};
use pvesim::{Sim, SimConfig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod support {
    pub mod portal;
}

const STUDENTS: u32 = 12;
const GRACE_SECS: u64 = 5;

fn start_portal(dir: &Path, db_url: &str) -> Child {
    support::portal::serve(dir, db_url, "127.0.0.1:0")
        // One VM at a time and a short lease, so kills land mid-way and restarts resume soon.
        .env("PROXLAB_JOBS__PER_NODE", "1")
        .env("PROXLAB_JOBS__LEASE_SECS", "3")
        .env("PROXLAB_SHUTDOWN_GRACE_SECS", GRACE_SECS.to_string())
        .spawn()
        .unwrap()
}

async fn ready_count(services: &Services, class_id: i32) -> usize {
    class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .filter(class_vm::Column::Step.eq(VmStep::Ready))
        .all(&services.db)
        .await
        .unwrap()
        .len()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
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
struct Setup {
    dir: tempfile::TempDir,
    root: PathBuf,
    sim: Sim,
    db_url: String,
    services: Services,
    class_id: i32,
}

async fn setup(name: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pve");
    let sim = Sim::start(SimConfig::for_tests(&root)).unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let db = lab::db::connect(&db_url).await.unwrap();
    lab::db::migrate(&db).await.unwrap();
    let key = SecretBox::load_or_create(&dir.path().join("secret.key")).unwrap();
    let services = Services::new(db, AuthPolicy::default(), key);
    let mut form =
        ClusterForm::with_token("lab", &sim.url(), sim.fingerprint(), &sim.token()).unwrap();
    form.pve_root = root.join("etc/pve").display().to_string();
    form.storage_paths = format!("local={}", root.join("var/lib/vz").display());
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
            students: STUDENTS.to_string(),
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
        class_id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_survives_sigkill_and_restart() {
    let Setup {
        dir,
        root,
        sim,
        db_url,
        services,
        class_id,
    } = setup("Crash course").await;
    let total = STUDENTS as usize + 2;

    // Kill the portal as soon as it has made one more VM than last time.
    let mut kills_mid_way = 0;
    for _ in 0..4 {
        let before = ready_count(&services, class_id).await;
        let mut portal = start_portal(dir.path(), &db_url);
        let deadline = Instant::now() + Duration::from_secs(30);
        while ready_count(&services, class_id).await == before && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        portal.kill().unwrap(); // SIGKILL
        portal.wait().unwrap();
        let after = ready_count(&services, class_id).await;
        assert!(
            after > before,
            "the restarted portal resumed the job ({before} → {after})"
        );
        if after < total {
            kills_mid_way += 1;
        }
    }
    assert!(
        kills_mid_way >= 2,
        "the kills landed in the middle of the deployment"
    );

    // A last start finishes the job.
    finish_and_check(dir.path(), &db_url, &services, &root, class_id).await;
    drop(sim);
}

/// The class has exactly its VMs: every row ready, every config and disk once, nothing
/// half-made, every student on a three-level backing chain.
async fn assert_exactly_the_class(services: &Services, root: &Path, class_id: i32, total: usize) {
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClassId.eq(class_id))
        .all(&services.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), total);
    assert!(rows.iter().all(|r| r.step == VmStep::Ready), "{rows:?}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_deployment_exits_cleanly_and_a_restart_finishes_the_job() {
    let Setup {
        dir,
        root,
        sim,
        db_url,
        services,
        class_id,
    } = setup("Term course").await;
    let total = STUDENTS as usize + 2;
    let mut portal = start_portal(dir.path(), &db_url);
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready_count(&services, class_id).await < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, took) = terminate(&mut portal).await;
    println!("SIGTERM to exit: {} ms", took.as_millis());
    assert!(status.success(), "exit 0: {status:?}");
    assert!(took < Duration::from_secs(GRACE_SECS), "{took:?}");
    let made = ready_count(&services, class_id).await;
    assert!(made < total, "stopped mid-way ({made} of {total})");
    // The job was handed back, not left to a lease that has to run out.
    let jobs = job::Entity::find().all(&services.db).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Running, "{jobs:?}");
    assert_eq!(
        (jobs[0].lease_owner.as_deref(), jobs[0].lease_until),
        (None, None)
    );
    let log = std::fs::read_to_string(dir.path().join("portal.log")).unwrap();
    assert!(
        log.contains("every task stopped"),
        "an orderly shutdown: {log}"
    );

    finish_and_check(dir.path(), &db_url, &services, &root, class_id).await;
    drop(sim);
}

/// A client that opens a connection and never finishes its request (or a response that never
/// ends) must not hold the process up: the grace period bounds the whole shutdown. axum's own
/// graceful shutdown waits for such a connection forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_ends_does_not_hold_up_shutdown() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let mut portal = support::portal::serve(dir.path(), &db_url, &addr.to_string())
        .env("PROXLAB_SHUTDOWN_GRACE_SECS", GRACE_SECS.to_string())
        .spawn()
        .unwrap();
    let health = format!("http://{addr}/health");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(&health).await.is_err() {
        assert!(Instant::now() < deadline, "the portal starts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Half a request: the headers never end.
    let mut slow = std::net::TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: portal\r\n")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, took) = terminate(&mut portal).await;
    println!(
        "SIGTERM to exit with a stuck client: {} ms",
        took.as_millis()
    );
    assert!(status.success(), "exit 0: {status:?}");
    let log = std::fs::read_to_string(dir.path().join("portal.log")).unwrap();
    assert!(
        log.contains("did not close within the grace period"),
        "{log}"
    );
    drop(slow);
}

/// Sends SIGTERM and waits for the exit; kills the portal and fails if it is still there a
/// little after its grace period. Returns the exit status and how long it took.
async fn terminate(portal: &mut Child) -> (std::process::ExitStatus, Duration) {
    let sent = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &portal.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    loop {
        if let Some(status) = portal.try_wait().unwrap() {
            return (status, sent.elapsed());
        }
        if sent.elapsed() > Duration::from_secs(GRACE_SECS + 3) {
            portal.kill().unwrap();
            panic!("the portal still runs {GRACE_SECS} s + 3 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts the portal again, lets it finish the deployment, and checks the class.
async fn finish_and_check(
    dir: &Path,
    db_url: &str,
    services: &Services,
    root: &Path,
    class_id: i32,
) {
    let total = STUDENTS as usize + 2;
    let mut portal = start_portal(dir, db_url);
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready_count(services, class_id).await < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    portal.kill().unwrap();
    portal.wait().unwrap();
    assert_exactly_the_class(services, root, class_id, total).await;
}
