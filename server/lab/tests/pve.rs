//! `lab::pve` against pvesim: each test starts a fresh simulator with the fixture world
//! (nodes pve1..pve3 with pve3 offline, VMs 100-103 and 301, template 9000, CT 200,
//! passwords "secret"), so tests share no state and can run in parallel.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lab::pve::{
    Client, Connection, Credentials, Error, GuestKind, GuestResource, NodeInfo, PowerAction,
    TaskStatus, fetch_fingerprint,
};
use pvesim::{AgentMode, NodeState, Sim, SimConfig};
use secrecy::SecretString;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(5);
const TASK_WAIT: Duration = Duration::from_secs(10);
const LOGIN: &str = "POST /access/ticket";

fn sim() -> (tempfile::TempDir, Sim) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Sim::start(SimConfig::for_tests(dir.path())).expect("simulator starts");
    (dir, sim)
}

fn token(sim: &Sim) -> Credentials {
    let full = sim.token();
    let (id, secret) = full.rsplit_once('=').expect("token has a secret");
    Credentials::Token {
        id: id.into(),
        secret: SecretString::from(secret),
    }
}

fn password(user: &str, password: &str) -> Credentials {
    Credentials::Password {
        user: user.into(),
        password: SecretString::from(password),
    }
}

fn connect(urls: Vec<String>, fingerprint: Option<String>, credentials: Credentials) -> Client {
    Client::new(Connection {
        urls,
        fingerprint,
        credentials,
        timeout: TIMEOUT,
    })
    .expect("valid connection")
}

fn pinned(sim: &Sim, credentials: Credentials) -> Client {
    connect(vec![sim.url()], Some(sim.fingerprint().into()), credentials)
}

fn root(sim: &Sim) -> Client {
    pinned(sim, token(sim))
}

fn guest(list: &[GuestResource], vmid: u32) -> &GuestResource {
    list.iter()
        .find(|g| g.vmid == vmid)
        .unwrap_or_else(|| panic!("guest {vmid} listed"))
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn start_and_wait(client: &Client, node: &str, kind: GuestKind, vmid: u32) -> TaskStatus {
    let upid = client
        .power(node, kind, vmid, PowerAction::Start)
        .await
        .expect("start accepted");
    assert!(upid.starts_with(&format!("UPID:{node}:")), "{upid}");
    client
        .wait_task(node, &upid, TASK_WAIT)
        .await
        .expect("task ends")
}

#[tokio::test]
async fn version_works_with_a_token_and_with_a_password() {
    let (_dir, sim) = sim();
    let by_token = root(&sim);
    let v = by_token.version().await.expect("version");
    assert!(v.version.starts_with("9."), "{v:?}");
    assert!(v.version.starts_with(&v.release), "{v:?}");
    assert_eq!(by_token.calls(), 1);
    assert_eq!(sim.control().count(LOGIN), 0, "tokens need no login");

    let by_password = pinned(&sim, password("root@pam", "secret"));
    assert_eq!(by_password.version().await.expect("version"), v);
    assert_eq!(by_password.calls(), 2, "login + call");
    by_password.version().await.expect("again");
    assert_eq!(by_password.calls(), 3, "the ticket is reused");
    assert_eq!(sim.control().count(LOGIN), 1);
}

#[tokio::test]
async fn vm_resources_parse_every_fixture_guest() {
    let (_dir, sim) = sim();
    let list = root(&sim).vm_resources().await.expect("resources");
    let ids: BTreeSet<u32> = list.iter().map(|g| g.vmid).collect();
    assert_eq!(ids, BTreeSet::from([100, 101, 102, 103, 200, 301, 9000]));

    let web = guest(&list, 100);
    assert_eq!(
        (web.kind, web.node.as_str(), web.status.as_str()),
        (GuestKind::Qemu, "pve1", "running")
    );
    assert_eq!(web.name.as_deref(), Some("web-01"));
    assert_eq!(web.tags.as_deref(), Some("lab;web"));
    assert_eq!(web.maxmem, 4096 << 20);
    assert_eq!(web.maxcpu, 2.0);
    assert!(web.uptime > 0 && web.maxdisk > 0 && !web.template);

    let tpl = guest(&list, 9000);
    assert!(tpl.template);
    assert_eq!(tpl.status, "stopped");

    let ct = guest(&list, 200);
    assert_eq!((ct.kind, ct.node.as_str()), (GuestKind::Lxc, "pve2"));
    assert_eq!(ct.maxmem, 512 << 20);

    // Mid-clone: only id/vmid/node/type/status "unknown" (+lock), no figures.
    let cloning = guest(&list, 103);
    assert_eq!(cloning.status, "unknown");
    assert_eq!(cloning.lock.as_deref(), Some("clone"));
    assert_eq!(
        (cloning.name.as_deref(), cloning.maxmem, cloning.cpu),
        (None, 0, 0.0)
    );
    // On the offline pve3.
    assert_eq!(guest(&list, 301).status, "unknown");
}

#[tokio::test]
async fn nodes_report_state_and_fingerprint() {
    let (_dir, sim) = sim();
    let nodes = root(&sim).nodes().await.expect("nodes");
    let names: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["pve1", "pve2", "pve3"]);
    let node = |name: &str| nodes.iter().find(|n| n.node == name).expect("node");
    let pve1: &NodeInfo = node("pve1");
    assert!(pve1.online && pve1.maxcpu > 0 && pve1.maxmem > 0);
    assert_eq!(pve1.ssl_fingerprint.as_deref(), Some(sim.fingerprint()));
    assert!(!node("pve3").online);
}

#[tokio::test]
async fn guest_config_turns_every_value_into_text() {
    let (_dir, sim) = sim();
    let client = root(&sim);
    let cfg = client
        .guest_config("pve1", GuestKind::Qemu, 100)
        .await
        .expect("config");
    assert_eq!(cfg.get("name"), Some("web-01"));
    assert_eq!(cfg.get("memory"), Some("4096"), "a string on the wire");
    assert_eq!(cfg.get("cores"), Some("2"), "a number on the wire");
    assert_eq!(cfg.get("agent"), Some("1"));
    assert_eq!(cfg.get("digest"), None, "digest is kept apart");
    let digest = cfg.digest.as_deref().expect("digest");
    assert!(digest.len() == 40 && digest.chars().all(|c| c.is_ascii_hexdigit()));
    let keys: Vec<&str> = cfg.entries.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.is_sorted(), "{keys:?}");

    let ct = client
        .guest_config("pve2", GuestKind::Lxc, 200)
        .await
        .expect("ct config");
    assert_eq!(ct.get("hostname"), Some("ct-dns"));
    assert_eq!(ct.get("memory"), Some("512"));
}

#[tokio::test]
async fn start_waits_for_the_task_and_the_vm_runs() {
    let (_dir, sim) = sim();
    let client = root(&sim);
    let before = client.vm_resources().await.expect("resources");
    assert_eq!(guest(&before, 101).status, "stopped");
    let done = start_and_wait(&client, "pve1", GuestKind::Qemu, 101).await;
    assert!(!done.running);
    assert_eq!(done.exitstatus.as_deref(), Some("OK"));
    assert_eq!(done.succeeded(), Some(true));
    let after = client.vm_resources().await.expect("resources");
    assert_eq!(guest(&after, 101).status, "running");
}

#[tokio::test]
async fn a_failed_task_carries_pve_message() {
    let (_dir, sim) = sim();
    let message = "start failed: no space left on device";
    sim.control()
        .fail_tasks(Some("qmstart"), Some(101), 1, message);
    let done = start_and_wait(&root(&sim), "pve1", GuestKind::Qemu, 101).await;
    assert_eq!(done.succeeded(), Some(false));
    assert_eq!(done.exitstatus.as_deref(), Some(message));
}

#[tokio::test]
async fn starting_a_running_vm_fails_in_the_task_not_over_http() {
    let (_dir, sim) = sim();
    let done = start_and_wait(&root(&sim), "pve1", GuestKind::Qemu, 100).await;
    assert_eq!(done.succeeded(), Some(false));
    assert_eq!(done.exitstatus.as_deref(), Some("VM 100 already running"));
}

#[tokio::test]
async fn wait_task_times_out_while_the_task_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = SimConfig::for_tests(dir.path());
    cfg.task_time_scale = 1.0; // a start takes 1.5 s
    let sim = Sim::start(cfg).expect("simulator starts");
    let client = root(&sim);
    let upid = client
        .power("pve1", GuestKind::Qemu, 101, PowerAction::Start)
        .await
        .expect("start accepted");
    let running = client.task_status("pve1", &upid).await.expect("status");
    assert_eq!((running.running, running.succeeded()), (true, None));
    let waited = client
        .wait_task("pve1", &upid, Duration::from_millis(300))
        .await;
    assert!(matches!(waited, Err(Error::Timeout)), "{waited:?}");
}

#[tokio::test]
async fn a_missing_vm_is_a_500_with_pve_text() {
    let (_dir, sim) = sim();
    let err = root(&sim)
        .guest_config("pve1", GuestKind::Qemu, 999)
        .await
        .expect_err("no VM 999");
    match &err {
        Error::Api { status, message } => {
            assert_eq!(*status, 500);
            assert_eq!(
                message,
                "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
            );
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert!(!err.is_transient() && !err.is_node_unreachable());
}

#[tokio::test]
async fn wrong_password_and_bad_token_are_unauthorized() {
    let (_dir, sim) = sim();
    let client = pinned(&sim, password("root@pam", "wrong"));
    let err = client.version().await.expect_err("bad password");
    assert!(
        matches!(&err, Error::Unauthorized(m) if m == "authentication failure"),
        "{err:?}"
    );
    assert_eq!(client.calls(), 1, "no retry after a refused login");

    let bad = Credentials::Token {
        id: "root@pam!pvesim".into(),
        secret: SecretString::from("00000000-0000-0000-0000-000000000000"),
    };
    let client = pinned(&sim, bad);
    let err = client.vm_resources().await.expect_err("bad token");
    // Empty body: the text comes from the reason phrase.
    assert!(
        matches!(&err, Error::Unauthorized(m) if m == "Authentication failed!"),
        "{err:?}"
    );
    assert_eq!(client.calls(), 1);
}

#[tokio::test]
async fn tickets_are_renewed_after_an_hour() {
    let (_dir, sim) = sim();
    let client = pinned(&sim, password("student1@pve", "secret"));
    client.version().await.expect("first call logs in");
    assert_eq!(sim.control().count(LOGIN), 1);

    let hour = Duration::from_secs(61 * 60);
    sim.control().advance_clock(hour);
    tokio::time::pause();
    tokio::time::advance(hour).await;
    tokio::time::resume();

    client.version().await.expect("works after renewal");
    assert_eq!(sim.control().count(LOGIN), 2, "renewed once");
    client.version().await.expect("still works");
    assert_eq!(
        sim.control().count(LOGIN),
        2,
        "the renewed ticket is reused"
    );
    assert_eq!(client.calls(), 5);
}

#[tokio::test]
async fn an_expired_ticket_leads_to_a_fresh_login() {
    let (_dir, sim) = sim();
    let client = pinned(&sim, password("root@pam", "secret"));
    client.version().await.expect("login");
    let expiry = Duration::from_secs(2 * 3600 + 300);

    // The server's clock moved on but ours did not: the call gets a 401, we log in again
    // and repeat it once.
    sim.control().advance_clock(expiry);
    client.version().await.expect("re-login and retry");
    assert_eq!(sim.control().count(LOGIN), 2);
    assert_eq!(sim.control().count("GET /version"), 3);
    assert_eq!(client.calls(), 5);

    // Both clocks moved on: renewal with the expired ticket fails, a password login follows.
    sim.control().advance_clock(expiry);
    tokio::time::pause();
    tokio::time::advance(expiry).await;
    tokio::time::resume();
    client.vm_resources().await.expect("fresh login");
    assert_eq!(sim.control().count(LOGIN), 4, "refused renewal + login");
    assert_eq!(sim.control().count("GET /cluster/resources"), 1);
}

#[tokio::test]
async fn posts_with_a_ticket_carry_the_csrf_token() {
    let (_dir, sim) = sim();
    let client = pinned(&sim, password("root@pam", "secret"));
    let done = start_and_wait(&client, "pve1", GuestKind::Qemu, 101).await;
    assert_eq!(done.succeeded(), Some(true));
    assert_eq!(
        sim.control().count(LOGIN),
        1,
        "no 401 and re-login on the way"
    );
}

#[tokio::test]
async fn the_pinned_certificate_is_required() {
    let (_dir, sim) = sim();
    let lower = sim.fingerprint().replace(':', "").to_lowercase();
    let client = connect(vec![sim.api_url()], Some(lower), token(&sim));
    client
        .version()
        .await
        .expect("pin without colons, lower case");

    let wrong = ["AB"; 32].join(":");
    let client = connect(vec![sim.url()], Some(wrong.clone()), token(&sim));
    match client.version().await {
        Err(Error::FingerprintMismatch { expected, actual }) => {
            assert_eq!(expected, wrong);
            assert_eq!(actual, sim.fingerprint());
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }

    sim.control().reset_counters();
    let unpinned = connect(vec![sim.url()], None, token(&sim));
    let err = unpinned.version().await.expect_err("self-signed");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(
        sim.control().counters().is_empty(),
        "no request got through"
    );
}

#[tokio::test]
async fn fetch_fingerprint_reads_the_certificate_without_a_request() {
    let (_dir, sim) = sim();
    let fp = fetch_fingerprint(&sim.url(), TIMEOUT).await.expect("fp");
    assert_eq!(fp, sim.fingerprint());
    let fp = fetch_fingerprint(&sim.api_url(), TIMEOUT)
        .await
        .expect("fp");
    assert_eq!(fp, sim.fingerprint());
    assert!(
        sim.control().counters().is_empty(),
        "{:?}",
        sim.control().counters()
    );

    let closed = format!("https://127.0.0.1:{}", closed_port());
    let err = fetch_fingerprint(&closed, TIMEOUT)
        .await
        .expect_err("closed");
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    let err = fetch_fingerprint("http://127.0.0.1:8006", TIMEOUT).await;
    assert!(matches!(err, Err(Error::Invalid(_))), "{err:?}");
}

#[tokio::test]
async fn an_offline_node_is_unreachable_while_the_cluster_answers() {
    let (_dir, sim) = sim();
    sim.control().set_node_state("pve2", NodeState::Offline);
    let client = root(&sim);
    let err = client
        .guest_config("pve2", GuestKind::Qemu, 102)
        .await
        .expect_err("offline");
    assert!(
        matches!(err, Error::NodeUnreachable { status: 595 }),
        "{err:?}"
    );
    assert!(err.is_node_unreachable() && err.is_transient());
    assert_eq!(
        sim.control().count("GET /nodes/{node}/qemu/{vmid}/config"),
        1,
        "595 is not retried"
    );
    let err = client
        .lxc_interfaces("pve2", 200)
        .await
        .expect_err("offline");
    assert!(err.is_node_unreachable(), "{err:?}");

    let list = client
        .vm_resources()
        .await
        .expect("cluster-wide call works");
    assert_eq!(guest(&list, 102).status, "unknown");
    assert_eq!(guest(&list, 100).status, "running");
}

#[tokio::test]
async fn hanging_nodes_and_slow_servers_time_out() {
    let (_dir, sim) = sim();
    sim.control().set_node_state("pve2", NodeState::Timeout);
    let client = root(&sim);
    let err = client
        .guest_config("pve2", GuestKind::Qemu, 102)
        .await
        .expect_err("hanging node");
    assert!(
        matches!(err, Error::NodeUnreachable { status: 596 }),
        "{err:?}"
    );

    sim.control().set_latency(Duration::from_secs(2));
    let impatient = Client::new(Connection {
        urls: vec![sim.url()],
        fingerprint: Some(sim.fingerprint().into()),
        credentials: token(&sim),
        timeout: Duration::from_millis(300),
    })
    .expect("client");
    let err = impatient.version().await.expect_err("slow");
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(impatient.calls(), 3, "a GET is tried three times");
    assert_eq!(sim.control().count("GET /version"), 3);

    let err = impatient
        .power("pve1", GuestKind::Qemu, 101, PowerAction::Start)
        .await
        .expect_err("slow");
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert_eq!(
        sim.control()
            .count("POST /nodes/{node}/qemu/{vmid}/status/start"),
        1,
        "a POST is never repeated"
    );
}

#[tokio::test]
async fn an_injected_500_is_an_api_error_and_not_retried() {
    let (_dir, sim) = sim();
    sim.control()
        .fail_path("/cluster/resources", 1, "injected: cfs lock timeout");
    let client = root(&sim);
    match client.vm_resources().await {
        Err(Error::Api {
            status: 500,
            message,
        }) => {
            assert_eq!(message, "injected: cfs lock timeout");
        }
        other => panic!("expected a 500, got {other:?}"),
    }
    assert_eq!(sim.control().count("GET /cluster/resources"), 1);
    assert_eq!(client.vm_resources().await.expect("next call").len(), 7);
}

#[tokio::test]
async fn failover_skips_an_unreachable_url_and_remembers_the_good_one() {
    let (_dir, sim) = sim();
    let dead = format!("https://127.0.0.1:{}", closed_port());
    let client = connect(
        vec![dead.clone(), sim.url()],
        Some(sim.fingerprint().into()),
        token(&sim),
    );
    client.version().await.expect("second URL answers");
    assert_eq!(client.calls(), 2, "one refused connection, one answer");
    client.version().await.expect("again");
    assert_eq!(client.calls(), 3, "goes straight to the URL that answered");

    let only_dead = connect(vec![dead], None, token(&sim));
    let err = only_dead.version().await.expect_err("nothing listens");
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert_eq!(only_dead.calls(), 3, "a GET is tried three times");
}

#[tokio::test]
async fn agent_interfaces_appear_after_boot() {
    let (_dir, sim) = sim();
    let client = root(&sim);
    let err = client
        .agent_interfaces("pve1", 9000)
        .await
        .expect_err("template has no agent");
    assert!(
        matches!(&err, Error::Api { status: 500, message } if message == "No QEMU guest agent configured"),
        "{err:?}"
    );

    assert_eq!(
        start_and_wait(&client, "pve1", GuestKind::Qemu, 101)
            .await
            .succeeded(),
        Some(true)
    );
    let mut found = None;
    for _ in 0..10 {
        match client.agent_interfaces("pve1", 101).await {
            Ok(list) => {
                found = Some(list);
                break;
            }
            Err(e) => {
                assert!(matches!(e, Error::Api { status: 500, .. }), "{e:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let list = found.expect("the agent answers after its boot delay");
    assert_eq!(list.len(), 1, "lo is skipped: {list:?}");
    assert_eq!(list[0].name, "ens18");
    let ip: IpAddr = "10.20.0.103".parse().expect("ip");
    assert_eq!(list[0].ips, [ip], "no loopback, no link-local");
    let mac = list[0].mac.as_deref().expect("mac");
    assert_eq!(mac.len(), 17);

    sim.control().set_agent(101, AgentMode::Absent);
    let err = client
        .agent_interfaces("pve1", 101)
        .await
        .expect_err("no agent");
    assert!(
        matches!(&err, Error::Api { status: 500, message } if message == "QEMU guest agent is not running"),
        "{err:?}"
    );
}

#[tokio::test]
async fn container_interfaces_strip_prefixes() {
    let (_dir, sim) = sim();
    let client = root(&sim);
    let list = client
        .lxc_interfaces("pve2", 200)
        .await
        .expect("interfaces");
    assert_eq!(list.len(), 1, "lo is skipped: {list:?}");
    assert_eq!(list[0].name, "eth0");
    assert_eq!(list[0].mac.as_deref(), Some("bc:24:11:a4:19:e7"));
    let ip: IpAddr = "10.20.0.202".parse().expect("ip");
    assert_eq!(list[0].ips, [ip]);
}

#[tokio::test]
async fn check_login_reports_the_user_and_groups_are_read_two_ways() {
    let (_dir, sim) = sim();
    for client in [root(&sim), pinned(&sim, password("root@pam", "secret"))] {
        let student = client
            .check_login("student1@pve", "secret")
            .await
            .expect("student");
        assert_eq!(student, "student1@pve");
        let err = client
            .check_login("student1@pve", "nope")
            .await
            .expect_err("bad password");
        assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
        assert_eq!(
            client.user_groups("student1@pve").await.expect("groups"),
            ["students"]
        );
        assert_eq!(
            client.user_groups("portal@pve").await.expect("groups"),
            ["admin"]
        );
        let mut members = client.group_members("students").await.expect("members");
        members.sort();
        assert_eq!(members, ["student1@pve", "student2@pve"]);
        let missing = client.group_members("nope").await.expect_err("no group");
        assert!(missing.to_string().contains("does not exist"), "{missing}");
    }
}

/// Issue 12.13: with a wrong secret the client does not show it to Proxmox again for 5 s
/// (then 10 s, 20 s, …): ten calls in a row make one failed login, not ten. A user's wrong
/// password in a realm sign-in is not the portal's, and never pauses the client.
#[tokio::test]
async fn refused_credentials_back_off() {
    let (_dir, sim) = sim();
    let bad = pinned(&sim, password("root@pam", "wrong"));
    for _ in 0..10 {
        let err = bad.version().await.expect_err("refused");
        assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    }
    assert_eq!(sim.control().count(LOGIN), 1);
    let err = bad.version().await.expect_err("still paused");
    assert!(err.to_string().contains("tries again in"), "{err}");

    let full = sim.token();
    let (id, _) = full.rsplit_once('=').expect("token");
    let bad_token = pinned(
        &sim,
        Credentials::Token {
            id: id.into(),
            secret: SecretString::from("wrong"),
        },
    );
    for _ in 0..10 {
        let _ = bad_token.version().await;
    }
    assert_eq!(sim.control().count("GET /version"), 1);
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let _ = bad_token.version().await;
    assert_eq!(
        sim.control().count("GET /version"),
        2,
        "one try after the pause"
    );

    let good = root(&sim);
    for _ in 0..6 {
        let _ = good.check_login("student1@pve", "nope").await;
    }
    good.version()
        .await
        .expect("a user's wrong password never pauses the portal");
}

#[test]
fn pve_typing_quirks_parse() {
    let loose: GuestResource = serde_json::from_value(json!({
        "id": "lxc/104", "vmid": "104", "node": "pve1", "type": "lxc", "status": "running",
        "template": "1", "maxmem": "2147483648", "cpu": "0.25", "maxcpu": 2, "uptime": 12.7,
    }))
    .expect("strings for numbers");
    assert_eq!((loose.vmid, loose.kind), (104, GuestKind::Lxc));
    assert!(loose.template);
    assert_eq!((loose.maxmem, loose.cpu, loose.uptime), (2 << 30, 0.25, 12));

    let bare: GuestResource = serde_json::from_value(json!({
        "id": "qemu/105", "vmid": 105, "node": "pve2", "type": "qemu", "status": "unknown",
    }))
    .expect("no figures");
    assert_eq!((bare.mem, bare.maxdisk, bare.template), (0, 0, false));

    let node: NodeInfo = serde_json::from_value(json!({
        "node": "pve9", "status": "offline", "maxcpu": "8", "mem": null,
    }))
    .expect("node");
    assert_eq!((node.online, node.maxcpu, node.mem), (false, 8, 0));

    let task = |status: &str, exit: Option<&str>| TaskStatus {
        running: status == "running",
        exitstatus: exit.map(Into::into),
    };
    assert_eq!(task("running", None).succeeded(), None);
    assert_eq!(task("stopped", Some("OK")).succeeded(), Some(true));
    assert_eq!(task("stopped", Some("WARNINGS: 2")).succeeded(), Some(true));
    assert_eq!(
        task("stopped", Some("VM 1 locked")).succeeded(),
        Some(false)
    );
    let parsed: TaskStatus =
        serde_json::from_value(json!({"status": "stopped", "exitstatus": "OK", "pid": 1}))
            .expect("task");
    assert_eq!(parsed.succeeded(), Some(true));
}

#[test]
fn connections_are_validated_and_never_show_secrets() {
    let conn = |url: &str, pin: Option<&str>| Connection {
        urls: vec![url.into()],
        fingerprint: pin.map(Into::into),
        credentials: password("root@pam", "hunter2-password"),
        timeout: TIMEOUT,
    };
    assert!(Client::new(conn("https://pve.example:8006/api2/json/", None)).is_ok());
    for bad in [
        "http://pve.example:8006",
        "pve.example",
        "https://pve.example/x",
    ] {
        let result = Client::new(conn(bad, None));
        assert!(matches!(result, Err(Error::Invalid(_))), "{bad}");
    }
    let result = Client::new(conn("https://pve.example", Some("AB:CD")));
    assert!(matches!(result, Err(Error::Invalid(_))));
    let mut empty = conn("https://pve.example", None);
    empty.urls.clear();
    assert!(matches!(Client::new(empty), Err(Error::Invalid(_))));

    let shown = format!("{:?}", conn("https://pve.example", None));
    assert!(
        shown.contains("root@pam") && !shown.contains("hunter2"),
        "{shown}"
    );
    let token = Credentials::Token {
        id: "portal@pve!lab".into(),
        secret: SecretString::from("3f5c2d1e-secret"),
    };
    assert!(!format!("{token:?}").contains("3f5c2d1e"));
}

/// Captures this thread's log lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

#[tokio::test]
async fn logs_never_contain_secrets() {
    let (_dir, sim) = sim();
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = pinned(&sim, password("root@pam", "secret"));
    client.version().await.expect("login");
    sim.control().advance_clock(Duration::from_secs(3 * 3600));
    client.version().await.expect("re-login");
    client
        .check_login("student1@pve", "secret")
        .await
        .expect("check");
    let bad = pinned(&sim, token(&sim));
    sim.control().fail_path("/version", 1, "boom");
    let _ = bad.version().await;

    let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf8");
    assert!(
        text.contains("logged in to PVE"),
        "debug logs captured: {text}"
    );
    let secret = sim.token().rsplit_once('=').expect("secret").1.to_string();
    for needle in ["PVE:root@pam", "PVE:student1", "secret", &secret] {
        assert!(!text.contains(needle), "log leaks {needle}: {text}");
    }
}
