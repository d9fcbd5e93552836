//! Crash safety with a real process: the portal (`proxlab serve`) is killed with SIGKILL in
//! the middle of a class deployment, again and again, and restarted on the same SQLite file.
//! The class must end with exactly the requested VMs: every config and disk once, nothing
//! half-made (`.part`, `.tmp`), every student on a three-level backing chain.
//!
//! The test process plays the teacher (it writes the launch through `lab`, as the server
//! function would) and hosts pvesim, whose files the portal's node operations write.

use lab::Services;
use lab::db::entity::job;
use lab::model::JobState;
use sea_orm::EntityTrait;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod support {
    pub mod deploy;
    pub mod portal;
}
use support::deploy::{Setup, Storage, assert_exactly_the_class, ready_count, setup};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_survives_sigkill_and_restart() {
    let Setup {
        dir,
        root,
        sim,
        db_url,
        services,
        class_id,
        ..
    } = setup("Crash course", STUDENTS, None, Storage::Files).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_deployment_exits_cleanly_and_a_restart_finishes_the_job() {
    let Setup {
        dir,
        root,
        sim,
        db_url,
        services,
        class_id,
        ..
    } = setup("Term course", STUDENTS, None, Storage::Files).await;
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
    support::portal::wait_until_answering(&format!("http://{addr}")).await;
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
