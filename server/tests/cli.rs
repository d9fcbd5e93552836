//! The `proxlab` binary's command line, run as a real process on a temporary SQLite file.

use std::io::Write;
use std::process::{Command, Output, Stdio};

mod support {
    pub mod jobs;
}

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_proxlab"))
            .args(args)
            .env_remove("DATABASE_URL")
            .env(
                "PROXLAB_DATABASE_URL",
                format!("sqlite://{}", self.dir.path().join("cli.db").display()),
            )
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Standard output alone (the logs go to standard error).
fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_documents_every_command() {
    let out = Cli::new().run(&["--help"], "");
    assert!(out.status.success());
    for word in [
        "serve",
        "migrate",
        "user",
        "cluster",
        "demo",
        "jobs",
        "setup-link",
        "backup",
        "restore",
        "--config",
        "--log-json",
    ] {
        assert!(text(&out).contains(word), "{word} missing from --help");
    }
}

#[test]
fn users_are_added_and_their_passwords_set_from_stdin() {
    let cli = Cli::new();
    let out = cli.run(
        &[
            "user",
            "add",
            "Alice",
            "--role",
            "teacher",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Created alice (teacher)"),
        "{}",
        text(&out)
    );

    let again = cli.run(
        &[
            "user",
            "add",
            "alice",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("already taken"), "{}", text(&again));

    let out = cli.run(
        &["user", "set-password", "alice", "--password-stdin"],
        "another long password\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = cli.run(
        &["user", "set-password", "nobody", "--password-stdin"],
        "another long password\n",
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("no account is named nobody"));
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let cli = Cli::new();
    for (args, stdin, says) in [
        (
            vec![
                "user",
                "add",
                "root@pam",
                "--role",
                "admin",
                "--password-stdin",
            ],
            "a long enough password\n",
            "cannot contain @",
        ),
        (
            vec!["user", "add", "bob", "--role", "admin", "--password-stdin"],
            "short\n",
            "at least 10",
        ),
        (
            vec!["user", "add", "bob", "--role", "boss", "--password-stdin"],
            "",
            "unknown role",
        ),
        (
            vec!["user", "add", "bob", "--role", "admin"],
            "",
            "--password-stdin",
        ),
        (
            vec!["--config", "missing.toml", "migrate"],
            "",
            "does not exist",
        ),
    ] {
        let out = cli.run(&args, stdin);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    std::fs::write(cli.dir.path().join("typo.toml"), "databse_url = \"x\"\n").unwrap();
    let out = cli.run(&["--config", "typo.toml", "migrate"], "");
    assert!(!out.status.success());
    assert!(text(&out).contains("databse_url"), "{}", text(&out));
}

#[test]
fn a_fresh_setup_link_is_printed_until_an_admin_exists() {
    let cli = Cli::new();
    let link = |o: &Output| {
        stdout(o)
            .lines()
            .find_map(|l| l.trim().strip_prefix("http://").map(str::to_owned))
            .unwrap_or_default()
    };
    let first = cli.run(&["setup-link"], "");
    assert!(first.status.success(), "{}", text(&first));
    let first = link(&first);
    assert!(first.contains("/setup?token="), "{first}");
    let second = link(&cli.run(&["setup-link"], ""));
    assert!(
        second.contains("/setup?token=") && second != first,
        "a new token each time"
    );
    let made = cli.run(
        &["user", "add", "root", "--role", "admin", "--password-stdin"],
        "correct horse battery\n",
    );
    assert!(made.status.success(), "{}", text(&made));
    let refused = cli.run(&["setup-link"], "");
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("an admin account exists already"),
        "{}",
        text(&refused)
    );
}

#[test]
fn migrate_runs_twice() {
    let cli = Cli::new();
    for _ in 0..2 {
        let out = cli.run(&["migrate"], "");
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("up to date"));
    }
}

#[test]
fn clusters_are_added_from_the_command_line_with_a_confirmed_fingerprint() {
    let cli = Cli::new();
    let sim_dir = tempfile::tempdir().unwrap();
    let sim = pvesim::Sim::start(pvesim::SimConfig::for_tests(sim_dir.path())).unwrap();
    let token = sim.token();
    let (id, secret) = token.rsplit_once('=').unwrap();
    let url = sim.url();
    // No fingerprint and no terminal: it is shown, and nothing is added.
    let out = cli.run(
        &[
            "cluster",
            "add",
            "lab",
            "--url",
            &url,
            "--token-id",
            id,
            "--secret-stdin",
        ],
        &format!("{secret}\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains(sim.fingerprint()), "{}", text(&out));
    assert!(text(&out).contains("--fingerprint"), "{}", text(&out));
    let list = cli.run(&["cluster", "list"], "");
    assert!(text(&list).contains("No clusters yet"), "{}", text(&list));
    // With the fingerprint confirmed it connects and counts the fixture world.
    let out = cli.run(
        &[
            "cluster",
            "add",
            "lab",
            "--url",
            &url,
            "--token-id",
            id,
            "--secret-stdin",
            "--fingerprint",
            sim.fingerprint(),
        ],
        &format!("{secret}\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Connected: Proxmox VE"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("guests"), "{}", text(&out));
    // The secret never reaches the output, and the database holds it sealed.
    assert!(!text(&out).contains(secret));
    let mut db = std::fs::read(cli.dir.path().join("cli.db")).unwrap();
    db.extend(std::fs::read(cli.dir.path().join("cli.db-wal")).unwrap_or_default());
    assert!(
        String::from_utf8_lossy(&db).contains("v1:"),
        "a sealed secret is stored"
    );
    assert!(!String::from_utf8_lossy(&db).contains(secret));
    let list = cli.run(&["cluster", "list"], "");
    assert!(text(&list).contains("lab\tenabled"), "{}", text(&list));
    let test = cli.run(&["cluster", "test", "lab"], "");
    assert!(test.status.success(), "{}", text(&test));
    // The simulator's token is root's: no privilege is missing. When Proxmox does not say
    // what the token may do, the test still passes and says so.
    assert!(!text(&test).contains("lacks"), "{}", text(&test));
    sim.control()
        .fail_path("/access/permissions", 1, "not here");
    let test = cli.run(&["cluster", "test", "lab"], "");
    assert!(test.status.success(), "{}", text(&test));
    assert!(
        text(&test).contains("Warning: Cannot read what the token may do"),
        "{}",
        text(&test)
    );
    let missing = cli.run(&["cluster", "test", "nope"], "");
    assert!(!missing.status.success());
    assert!(text(&missing).contains("no cluster is named nope"));
    let removed = cli.run(&["cluster", "remove", "lab"], "");
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(text(&cli.run(&["cluster", "list"], "")).contains("No clusters yet"));
}

/// Issue 12.13: a cluster whose connection test fails is not saved (before, it was saved
/// enabled and every sync was one more failed login in the node's log).
#[test]
fn a_cluster_that_fails_its_test_is_not_added() {
    let cli = Cli::new();
    let sim_dir = tempfile::tempdir().unwrap();
    let sim = pvesim::Sim::start(pvesim::SimConfig::for_tests(sim_dir.path())).unwrap();
    let token = sim.token();
    let (id, _secret) = token.rsplit_once('=').unwrap();
    let url = sim.url();
    let out = cli.run(
        &[
            "cluster",
            "add",
            "lab",
            "--url",
            &url,
            "--token-id",
            id,
            "--secret-stdin",
            "--fingerprint",
            sim.fingerprint(),
        ],
        "not-the-secret\n",
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not added: the connection test failed"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("not-the-secret"), "{}", text(&out));
    let list = cli.run(&["cluster", "list"], "");
    assert!(text(&list).contains("No clusters yet"), "{}", text(&list));
}

#[test]
fn jobs_are_listed_shown_and_cancelled() {
    use support::jobs;
    let cli = Cli::new();
    let out = cli.run(&["jobs", "list"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("No unfinished jobs."), "{}", text(&out));
    // The jobs as the engine would have left them, in the database the CLI uses.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (services, seeded) = rt.block_on(async {
        let url = format!("sqlite://{}", cli.dir.path().join("cli.db").display());
        let db = lab::db::connect(&url).await.unwrap();
        let key =
            lab::secrets::SecretBox::load_or_create(&cli.dir.path().join("seed.key")).unwrap();
        let services = lab::Services::new(db, lab::AuthPolicy::default(), key);
        let seeded = jobs::seed(&services).await;
        (services, seeded)
    });
    let line = |out: &str, id: i32| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(&id.to_string()))
            .map(str::to_owned)
    };

    let list = cli.run(&["jobs", "list"], "");
    assert!(list.status.success(), "{}", text(&list));
    let list = stdout(&list);
    let header = list.lines().next().unwrap();
    for column in [
        "ID", "KIND", "STATE", "CLASS", "VM", "PROGRESS", "LEASE", "ERROR",
    ] {
        assert!(header.contains(column), "{column}: {list}");
    }
    let deploy = line(&list, seeded.deploy).expect("the running deploy is listed");
    for cell in [
        "Deploy",
        "Running",
        jobs::CLASS,
        "1/2",
        jobs::RUNNER,
        "s left",
        "owner",
    ] {
        assert!(deploy.contains(cell), "{cell}: {deploy}");
    }
    let reset = line(&list, seeded.reset).expect("the queued reset is listed");
    assert!(reset.contains("Queued") && reset.contains("101"), "{reset}");
    assert!(line(&list, seeded.publish).is_some(), "{list}");
    assert!(
        line(&list, seeded.respec).is_none(),
        "done is not unfinished: {list}"
    );
    assert!(
        line(&list, seeded.delete).is_none(),
        "failed is not unfinished: {list}"
    );

    let failed = stdout(&cli.run(&["jobs", "list", "--state", "failed"], ""));
    let delete = line(&failed, seeded.delete).expect("the failed delete is listed");
    for cell in ["Delete class", "Failed", "deleted (id 9999)", jobs::ERROR] {
        assert!(delete.contains(cell), "{cell}: {delete}");
    }
    assert_eq!(failed.lines().count(), 2, "{failed}");
    let all = stdout(&cli.run(&["jobs", "list", "--state", "all"], ""));
    assert_eq!(all.lines().count(), 6, "{all}");
    let bad = cli.run(&["jobs", "list", "--state", "stuck"], "");
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("use active, failed or all"),
        "{}",
        text(&bad)
    );

    let show = cli.run(&["jobs", "show", &seeded.deploy.to_string()], "");
    assert!(show.status.success(), "{}", text(&show));
    let show = text(&show);
    for fact in [
        format!("Job:           {}", seeded.deploy),
        "Kind:          Deploy (deploy)".to_owned(),
        "State:         Running".to_owned(),
        format!("Class:         {} (id {})", jobs::CLASS, seeded.class_id),
        "Progress:      1/2 VMs done".to_owned(),
        "Attempts:      1".to_owned(),
        format!("Lease:         {}, ", jobs::RUNNER),
        "Requested by:  owner".to_owned(),
        "Finished:      -".to_owned(),
        "Cancellable:   yes".to_owned(),
    ] {
        assert!(show.contains(&fact), "{fact}: {show}");
    }
    let gone = text(&cli.run(&["jobs", "show", &seeded.delete.to_string()], ""));
    assert!(gone.contains("Class:         deleted (id 9999)"), "{gone}");
    assert!(
        gone.contains(&format!("Last error:    {}", jobs::ERROR)),
        "{gone}"
    );
    assert!(gone.contains("UTC ("), "{gone}");
    let missing = cli.run(&["jobs", "show", "4242"], "");
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("Job 4242 was not found"),
        "{}",
        text(&missing)
    );

    // A running publish is not cut short; a queued reset is cancelled.
    let refused = cli.run(&["jobs", "cancel", &seeded.publish.to_string()], "");
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("cannot be cancelled"),
        "{}",
        text(&refused)
    );
    let refused = cli.run(&["jobs", "cancel", &seeded.respec.to_string()], "");
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("is done and cannot be cancelled"),
        "{}",
        text(&refused)
    );
    assert!(!cli.run(&["jobs", "cancel", "4242"], "").status.success());
    let cancelled = cli.run(&["jobs", "cancel", &seeded.reset.to_string()], "");
    assert!(cancelled.status.success(), "{}", text(&cancelled));
    assert!(
        text(&cancelled).contains("cancel requested"),
        "{}",
        text(&cancelled)
    );
    rt.block_on(async {
        assert_eq!(
            jobs::state(&services, seeded.reset).await,
            lab::model::JobState::Cancelling
        );
        assert_eq!(
            jobs::state(&services, seeded.publish).await,
            lab::model::JobState::Running
        );
    });
    let again = cli.run(&["jobs", "cancel", &seeded.reset.to_string()], "");
    assert!(
        !again.status.success(),
        "a cancelling job is not cancelled twice"
    );
}
