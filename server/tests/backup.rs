//! `proxlab backup` and `proxlab restore` as real processes on a real SQLite file, with the
//! portal (`proxlab serve`) running its sync workers against pvesim, pollers reading its
//! `/health`, and a writer adding accounts all the while.
//!
//! Asserted: the backup is taken under that load and is one consistent moment (the writer's
//! accounts in it are a gap-free prefix); a restore refuses while the portal runs and
//! changes nothing; once the portal is stopped it puts exactly the backup's accounts back
//! and keeps the replaced database beside it; a file that is not a backup, or a backup
//! over an existing file, is refused with a reason.

use lab::db::entity::user;
use lab::model::{ClusterForm, Role};
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Services, auth, clusters};
use pvesim::{Sim, SimConfig};
use sea_orm::{EntityTrait, QueryOrder};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod support {
    pub mod portal;
}
#[path = "../lab/tests/support/postgres.rs"]
mod postgres;

/// `proxlab <args>` on the database, off the async threads (the writer goes on meanwhile).
async fn proxlab(db_url: &str, args: &[&str]) -> Output {
    let db_url = db_url.to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_proxlab"))
            .args(&args)
            .env_remove("DATABASE_URL")
            .env("PROXLAB_DATABASE_URL", db_url)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn usernames(db_url: &str) -> Vec<String> {
    let db = lab::db::connect(db_url).await.unwrap();
    let names = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    db.close().await.unwrap();
    names
}

/// Waits (30 s at most) until the portal's `/health` answers 200.
async fn answering(http: &reqwest::Client, health: &str) {
    let started = Instant::now();
    while !http
        .get(health)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the portal did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn open(db_url: &str, dir: &Path) -> Services {
    let db = lab::db::connect(db_url).await.unwrap();
    lab::db::migrate(&db).await.unwrap();
    let key = SecretBox::load_or_create(&dir.join("secret.key")).unwrap();
    Services::new(db, AuthPolicy::default(), key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_is_restored_only_while_no_portal_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(SimConfig::for_tests(dir.path().join("pve"))).unwrap();
    let db_path = dir.path().join("portal.db");
    let db_url = format!("sqlite://{}", db_path.display());
    let services = open(&db_url, dir.path()).await;
    let form = ClusterForm::with_token("lab", &sim.url(), sim.fingerprint(), &sim.token()).unwrap();
    clusters::create(&services, &form).await.unwrap();
    add_account(&services, "alice").await;

    let port = support::portal::free_port();
    let mut portal = support::portal::Running(
        support::portal::serve(dir.path(), &db_url, &format!("127.0.0.1:{port}"))
            .env("PROXLAB_SYNC__QUICK_SECS", "1")
            .spawn()
            .unwrap(),
    );
    let health = format!("http://127.0.0.1:{port}/health");
    let http = reqwest::Client::new();
    answering(&http, &health).await;

    // The load: pollers on /health, and a writer adding accounts one after another.
    let stop = Arc::new(AtomicBool::new(false));
    let (polls, poll_errors) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut pollers = Vec::new();
    for _ in 0..4 {
        let (stop, polls, errors, http, health) = (
            stop.clone(),
            polls.clone(),
            poll_errors.clone(),
            http.clone(),
            health.clone(),
        );
        pollers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match http.get(&health).send().await {
                    Ok(r) if r.status().is_success() => polls.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let writer = {
        let (stop, services) = (stop.clone(), services.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                add_account(&services, &format!("w{n}")).await;
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let backup = dir.path().join("proxlab-backup.db");
    let backup_str = backup.display().to_string();
    let taken = proxlab(&db_url, &["backup", &backup_str]).await;
    assert!(taken.status.success(), "{}", said(&taken));
    assert!(said(&taken).contains("Backed up"), "{}", said(&taken));
    let again = proxlab(&db_url, &["backup", &backup_str]).await;
    assert!(!again.status.success());
    assert!(said(&again).contains("exists already"), "{}", said(&again));

    // While the portal runs, a restore refuses and changes nothing.
    let refused = proxlab(&db_url, &["restore", &backup_str]).await;
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("portal is running"),
        "{}",
        said(&refused)
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    for p in pollers {
        p.await.unwrap();
    }
    assert_eq!(
        poll_errors.load(Ordering::Relaxed),
        0,
        "every poll answered"
    );
    assert!(polls.load(Ordering::Relaxed) > 20, "the pollers ran");

    // One consistent moment: alice, then the writer's first k accounts with no gap.
    let in_backup = usernames(&format!("sqlite://{backup_str}")).await;
    let k = in_backup.len() - 1;
    assert_eq!(in_backup[0], "alice");
    assert_eq!(
        in_backup[1..],
        (0..k).map(|n| format!("w{n}")).collect::<Vec<_>>()[..]
    );
    assert!(
        k > 0 && k < written,
        "taken mid-way: {k} of {written} accounts"
    );
    let live = usernames(&db_url).await;
    assert_eq!(
        live.len(),
        written + 1,
        "the refused restore changed nothing"
    );

    // Stopped, the portal's database is put back to the backup's moment.
    let term = Command::new("kill")
        .args(["-TERM", &portal.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(portal.0.wait().unwrap().success());
    services.db.clone().close().await.unwrap();

    let not_ours = dir.path().join("notes.txt");
    std::fs::write(&not_ours, "not a database").unwrap();
    let bad = proxlab(&db_url, &["restore", &not_ours.display().to_string()]).await;
    assert!(!bad.status.success());
    assert!(
        said(&bad).contains("is not a Proxlab backup"),
        "{}",
        said(&bad)
    );
    assert_eq!(usernames(&db_url).await, live, "a bad file changes nothing");

    let restored = proxlab(&db_url, &["restore", &backup_str]).await;
    assert!(restored.status.success(), "{}", said(&restored));
    assert!(said(&restored).contains("kept as"), "{}", said(&restored));
    assert_eq!(usernames(&db_url).await, in_backup);
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("portal.db.before-restore-")
        })
        .map(|e| e.path())
        .collect();
    assert!(
        kept.iter()
            .any(|p| !p.to_string_lossy().ends_with("-wal")
                && !p.to_string_lossy().ends_with("-shm")),
        "{kept:?}"
    );

    // And the portal starts on it.
    let again = support::portal::Running(
        support::portal::serve(dir.path(), &db_url, &format!("127.0.0.1:{port}"))
            .spawn()
            .unwrap(),
    );
    answering(&http, &health).await;
    drop(again); // killed
    drop(sim);
}

/// PostgreSQL: Debian's `pg_dump` and `pg_restore`, run by the same two commands. A restore
/// refuses while any connection named `proxlab` (a portal's) is open on the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_is_backed_up_and_restored_with_its_own_tools() {
    let Some(db_url) = postgres::fresh_database_url().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let services = open(&db_url, dir.path()).await;
    add_account(&services, "alice").await;
    let backup = dir.path().join("pg.dump").display().to_string();
    let taken = proxlab(&db_url, &["backup", &backup]).await;
    assert!(taken.status.success(), "{}", said(&taken));
    add_account(&services, "bob").await;

    let refused = proxlab(&db_url, &["restore", &backup]).await;
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("portal is running"),
        "{}",
        said(&refused)
    );
    services.db.clone().close().await.unwrap();
    assert_eq!(usernames(&db_url).await, ["alice", "bob"]);

    let restored = proxlab(&db_url, &["restore", &backup]).await;
    assert!(restored.status.success(), "{}", said(&restored));
    assert_eq!(usernames(&db_url).await, ["alice"]);
}

async fn add_account(services: &Services, name: &str) {
    auth::create_user(
        services,
        auth::NewUser {
            username: name.into(),
            display_name: name.into(),
            email: None,
            role: Role::Student,
            password: "a long enough password".into(),
        },
    )
    .await
    .unwrap();
}
