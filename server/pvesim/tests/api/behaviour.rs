//! Cluster-level behaviour: offline nodes, ticket lifetime and renewal, CSRF vs tokens,
//! the 401 delay, faults and counters, per-guest load profiles, and `/cluster/resources` at
//! 10 000 guests.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::{Auth, Client};
use crate::sim_with;

async fn root(sim: &pvesim::Sim) -> Client {
    Client::new(sim).login("root@pam", "secret").await
}

fn find<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|e| e["id"] == id)
}

#[tokio::test]
async fn an_offline_node_answers_595_and_shows_offline() {
    let (_d, sim) = sim_with(Some(|c| c.proxy_timeout = Duration::from_millis(200)));
    let c = root(&sim).await;
    assert!(
        sim.control()
            .set_node_state("pve2", pvesim::NodeState::Offline)
    );
    let r = c.call("GET", "/nodes/pve2/qemu", &[]).await;
    assert_eq!(r.status, 595);
    assert!(r.body.is_empty());
    assert_eq!(
        r.reason,
        "Errors during connection establishment, proxy handshake: No route to host"
    );
    let res = c.call("GET", "/cluster/resources", &[]).await.data();
    assert_eq!(
        find(&res, "node/pve2").map(|n| n["status"].clone()),
        Some("offline".into())
    );
    assert_eq!(
        find(&res, "qemu/102").map(|n| n["status"].clone()),
        Some("unknown".into())
    );
    let nodes = c.call("GET", "/nodes", &[]).await.data();
    let pve2 = nodes
        .as_array()
        .and_then(|l| l.iter().find(|n| n["node"] == "pve2"))
        .cloned()
        .unwrap_or_default();
    assert!(pve2.get("uptime").is_none() && pve2.get("maxmem").is_some());
    sim.control()
        .set_node_state("pve2", pvesim::NodeState::Timeout);
    let t = c.call("GET", "/nodes/pve2/status", &[]).await;
    assert_eq!((t.status, t.reason.as_str()), (596, "Connection timed out"));
    sim.control()
        .set_node_state("pve2", pvesim::NodeState::Online);
    assert_eq!(c.call("GET", "/nodes/pve2/qemu", &[]).await.status, 200);
}

#[tokio::test]
async fn tickets_expire_after_two_hours_and_renew_with_the_ticket() {
    let (_d, sim) = sim_with(None);
    let anon = Client::new(&sim);
    let c = anon.login("root@pam", "secret").await;
    let Auth::Ticket { ticket, .. } = c.auth.clone() else {
        unreachable!()
    };
    assert!(ticket.starts_with("PVE:root@pam:"));
    sim.control().advance_clock(Duration::from_secs(3600));
    let renewed = anon
        .call(
            "POST",
            "/access/ticket",
            &[("username", "root@pam"), ("password", &ticket)],
        )
        .await;
    assert_eq!(renewed.status, 200);
    let fresh = renewed.data()["ticket"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(fresh, ticket);
    sim.control().advance_clock(Duration::from_secs(3700));
    let old = c.call("GET", "/nodes", &[]).await;
    assert_eq!(
        (old.status, old.reason.as_str()),
        (401, "Authentication failed!")
    );
    assert!(old.body.is_empty());
    let new = anon.with_auth(Auth::Ticket {
        ticket: fresh,
        csrf: None,
    });
    assert_eq!(new.call("GET", "/nodes", &[]).await.status, 200);
    let bad = anon
        .call(
            "POST",
            "/access/ticket",
            &[("username", "root@pam"), ("password", &ticket)],
        )
        .await;
    assert_eq!(
        (bad.status, bad.reason.as_str()),
        (401, "authentication failure")
    );
}

#[tokio::test]
async fn csrf_is_required_for_ticket_writes_but_not_for_tokens() {
    let (_d, sim) = sim_with(None);
    let anon = Client::new(&sim);
    let c = anon.login("root@pam", "secret").await;
    let Auth::Ticket { ticket, .. } = c.auth.clone() else {
        unreachable!()
    };
    let no_csrf = anon.with_auth(Auth::Ticket { ticket, csrf: None });
    assert_eq!(
        no_csrf.call("GET", "/nodes/pve1/qemu", &[]).await.status,
        200,
        "GET needs no CSRF"
    );
    let w = no_csrf
        .call("POST", "/nodes/pve1/qemu/101/status/start", &[])
        .await;
    assert_eq!(
        (w.status, w.reason.as_str()),
        (401, "Permission denied - invalid csrf token")
    );
    assert_eq!(
        c.call("POST", "/nodes/pve1/qemu/101/status/start", &[])
            .await
            .status,
        200
    );
    let token = anon.with_auth(Auth::Token(sim.token()));
    assert_eq!(
        token
            .call(
                "PUT",
                "/nodes/pve1/qemu/101/config",
                &[("name", "via-token")]
            )
            .await
            .status,
        200
    );
    let student = anon.login("student1@pve", "secret").await;
    let denied = student
        .call("PUT", "/nodes/pve1/qemu/101/config", &[("cores", "2")])
        .await;
    assert_eq!(
        (denied.status, denied.reason.as_str()),
        (403, "Permission check failed (/vms/101, VM.Config.CPU)")
    );
    assert_eq!(
        student
            .call("POST", "/nodes/pve1/qemu/101/status/stop", &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn unauthorized_answers_are_delayed() {
    let (_d, sim) = sim_with(Some(|c| c.unauthorized_delay = Duration::from_millis(400)));
    let anon = Client::new(&sim);
    let t = Instant::now();
    let r = anon.call("GET", "/nodes", &[]).await;
    assert_eq!((r.status, r.reason.as_str()), (401, "No ticket"));
    assert!(t.elapsed() >= Duration::from_millis(400));
    let t = Instant::now();
    assert_eq!(anon.call("GET", "/access/domains", &[]).await.status, 200);
    assert!(t.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn faults_and_counters_are_controllable() {
    let (_d, sim) = sim_with(None);
    let c = root(&sim).await;
    let ctl = sim.control();
    ctl.reset_counters();
    ctl.fail_path("/cluster/resources", 2, "injected failure");
    for _ in 0..2 {
        let r = c.call("GET", "/cluster/resources", &[]).await;
        assert_eq!((r.status, r.reason.as_str()), (500, "injected failure"));
    }
    assert_eq!(c.call("GET", "/cluster/resources", &[]).await.status, 200);
    assert_eq!(ctl.count("GET /cluster/resources"), 3);
    c.call("GET", "/nodes/pve1/qemu/100/status/current", &[])
        .await;
    assert_eq!(ctl.count("GET /nodes/{node}/qemu/{vmid}/status/current"), 1);
    ctl.fail_tasks(
        Some("qmstart"),
        Some(101),
        1,
        "start failed: QEMU exited with code 1",
    );
    let upid = c
        .call("POST", "/nodes/pve1/qemu/101/status/start", &[])
        .await
        .data();
    let t = c.wait_task(upid.as_str().unwrap_or_default()).await;
    assert_eq!(t["exitstatus"], "start failed: QEMU exited with code 1");
    let cur = c
        .call("GET", "/nodes/pve1/qemu/101/status/current", &[])
        .await
        .data();
    assert_eq!(cur["status"], "stopped");
    ctl.set_latency(Duration::from_millis(150));
    let t0 = Instant::now();
    c.call("GET", "/version", &[]).await;
    assert!(t0.elapsed() >= Duration::from_millis(150));
    ctl.clear_faults();
    // The same controls over HTTP.
    let r = c.control("GET", "/_sim/counters", "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().get("GET /version").is_some());
    let r = c
        .control("PUT", "/_sim/nodes/pve3", r#"{"state":"online"}"#)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(c.call("GET", "/nodes/pve3/status", &[]).await.status, 200);
}

/// `cpu`, `netin` and `uptime` of a guest's `/cluster/resources` entry.
async fn vm_figures(c: &Client, vmid: u32) -> (f64, u64, u64) {
    let res = c
        .call("GET", "/cluster/resources", &[("type", "vm")])
        .await
        .data();
    let e = find(&res, &format!("qemu/{vmid}"))
        .cloned()
        .unwrap_or_default();
    (
        e["cpu"].as_f64().unwrap_or(-1.0),
        e["netin"].as_u64().unwrap_or(0),
        e["uptime"].as_u64().unwrap_or(0),
    )
}

/// `PUT /_sim/guests/{vmid}/load`'s status.
async fn set_load(c: &Client, vmid: u32, body: &str) -> u16 {
    c.control("PUT", &format!("/_sim/guests/{vmid}/load"), body)
        .await
        .status
}

/// Asserts that `netin` did not go back between two reads.
fn never_back(before: (f64, u64, u64), after: (f64, u64, u64)) {
    assert!(
        after.1 >= before.1,
        "netin went back: {before:?} -> {after:?}"
    );
}

/// Bytes per second between two reads, as a dashboard computes it from the counters.
fn rate(before: (f64, u64, u64), after: (f64, u64, u64)) -> f64 {
    never_back(before, after);
    assert!(
        after.2 > before.2,
        "uptime did not grow: {before:?} -> {after:?}"
    );
    (after.1 - before.1) as f64 / (after.2 - before.2) as f64
}

#[tokio::test]
async fn a_guest_can_be_made_busy_or_idle_on_its_own() {
    let (_d, sim) = sim_with(None);
    let c = root(&sim).await;
    let advance = || c.control("POST", "/_sim/clock", r#"{"advance_secs":60}"#);
    assert_eq!(set_load(&c, 100, r#"{"profile":"busy"}"#).await, 204);
    assert_eq!(sim.control().load(100), Some(pvesim::Profile::Busy));
    let b0 = vm_figures(&c, 100).await;
    assert_eq!(advance().await.status, 204);
    let b1 = vm_figures(&c, 100).await;
    assert!(b1.0 > 0.5, "busy cpu {b1:?}");
    let busy = rate(b0, b1);
    assert!(busy > 100_000.0, "busy netin rate {busy} B/s");
    // The other guests keep the simulator's (idle) profile.
    let other = vm_figures(&c, 102).await;
    assert!(other.0 < 0.1, "VM 102 stays idle: {other:?}");
    let cur = c
        .call("GET", "/nodes/pve1/qemu/100/status/current", &[])
        .await
        .data();
    assert!(cur["cpu"].as_f64().unwrap_or(0.0) > 0.5, "{cur}");
    // rrddata shows the busy minute as busy.
    assert_eq!(advance().await.status, 204);
    let rrd = c
        .call(
            "GET",
            "/nodes/pve1/qemu/100/rrddata",
            &[("timeframe", "hour")],
        )
        .await
        .data();
    let last = rrd
        .as_array()
        .and_then(|l| l.last())
        .cloned()
        .unwrap_or_default();
    assert!(last["cpu"].as_f64().unwrap_or(0.0) > 0.5, "{last}");
    assert!(last["netin"].as_f64().unwrap_or(0.0) > 100_000.0, "{last}");
    let b2 = vm_figures(&c, 100).await;
    never_back(b1, b2);

    assert_eq!(set_load(&c, 100, r#"{"profile":"idle"}"#).await, 204);
    let i0 = vm_figures(&c, 100).await;
    never_back(b2, i0);
    assert_eq!(advance().await.status, 204);
    let i1 = vm_figures(&c, 100).await;
    assert!(i1.0 < 0.1, "idle cpu {i1:?}");
    let idle = rate(i0, i1);
    assert!(idle < 10_000.0, "idle netin rate {idle} B/s");

    // Back to the simulator's profile (idle in tests), still counting up.
    assert_eq!(set_load(&c, 100, r#"{"profile":"default"}"#).await, 204);
    assert_eq!(sim.control().load(100), None);
    assert_eq!(advance().await.status, 204);
    let d1 = vm_figures(&c, 100).await;
    assert!(d1.0 < 0.1 && rate(i1, d1) < 10_000.0, "default {d1:?}");

    // Errors: unknown guest, bad bodies.
    assert_eq!(set_load(&c, 999, r#"{"profile":"busy"}"#).await, 404);
    assert_eq!(set_load(&c, 100, r#"{"profile":"medium"}"#).await, 400);
    assert_eq!(set_load(&c, 100, r#"{"mode":"busy"}"#).await, 400);
    assert_eq!(set_load(&c, 100, "busy").await, 400);
    assert_eq!(sim.control().load(100), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_resources_scales_to_ten_thousand_guests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = pvesim::SimConfig::for_tests(dir.path());
    cfg.fixture_world = false;
    cfg.vms = 10_000;
    cfg.templates = 1;
    cfg.containers = 0;
    cfg.seed_disks = pvesim::SeedDisks::TemplatesOnly;
    let started = Instant::now();
    let sim = pvesim::Sim::start(cfg).expect("start");
    let seeded = started.elapsed();
    let c = root(&sim).await;
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let r = c.call("GET", "/cluster/resources", &[]).await;
        best = best.min(t.elapsed());
        assert_eq!(r.status, 200);
        assert!(r.data().as_array().map_or(0, Vec::len) > 10_000);
    }
    let data = c
        .call("GET", "/cluster/resources", &[("type", "vm")])
        .await
        .data();
    let ids: Vec<String> = data
        .as_array()
        .map(|l| l.iter().map(|e| e["vmid"].to_string()).collect())
        .unwrap_or_default();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "guests sorted by VMID as strings");
    println!(
        "10k guests: seeded in {seeded:?}, /cluster/resources best of 5 = {best:?} (client round trip incl. TLS)"
    );
    assert!(
        best < Duration::from_secs(2),
        "answers in reasonable time even in debug builds"
    );
}

#[tokio::test]
async fn users_groups_acl_and_pools_can_be_managed() {
    let (_d, sim) = sim_with(None);
    let c = root(&sim).await;
    let ok = |r: crate::client::Resp| assert_eq!(r.status, 200, "{} {}", r.reason, r.text());
    ok(c.call(
        "POST",
        "/access/groups",
        &[("groupid", "course-b"), ("comment", "Course B")],
    )
    .await);
    ok(c.call(
        "POST",
        "/access/users",
        &[
            ("userid", "student9@pve"),
            ("password", "s3cret9"),
            ("groups", "course-b"),
            ("firstname", "Nine"),
        ],
    )
    .await);
    let dup = c
        .call("POST", "/access/users", &[("userid", "student9@pve")])
        .await;
    assert_eq!(
        dup.reason,
        "create user failed: user 'student9@pve' already exists"
    );
    let users = c.call("GET", "/access/users", &[]).await.data();
    let nine = users
        .as_array()
        .and_then(|l| l.iter().find(|u| u["userid"] == "student9@pve"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(nine["groups"], "course-b");
    let student = Client::new(&sim).login("student9@pve", "s3cret9").await;
    ok(student
        .call(
            "PUT",
            "/access/password",
            &[("userid", "student9@pve"), ("password", "n3wpass")],
        )
        .await);
    Client::new(&sim).login("student9@pve", "n3wpass").await;
    ok(c.call(
        "PUT",
        "/access/acl",
        &[
            ("path", "/pool/lab-b"),
            ("roles", "PVEVMUser"),
            ("groups", "course-b"),
        ],
    )
    .await);
    let acl = c.call("GET", "/access/acl", &[]).await.data();
    let entry = acl
        .as_array()
        .and_then(|l| l.iter().find(|a| a["path"] == "/pool/lab-b"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(entry["ugid"], "course-b");
    assert_eq!(entry["type"], "group");
    assert_eq!(entry["propagate"], 1);
    let forbidden = student
        .call("POST", "/access/groups", &[("groupid", "x")])
        .await;
    assert_eq!(forbidden.status, 403);
    ok(c.call(
        "POST",
        "/pools",
        &[("poolid", "lab-b"), ("comment", "Lab B")],
    )
    .await);
    ok(c.call("PUT", "/pools/lab-b", &[("vms", "102")]).await);
    let moved = c.call("PUT", "/pools/lab-b", &[("vms", "100")]).await;
    assert_eq!(moved.reason, "VM 100 belongs already to pool 'lab-a'");
    let busy = c.call("DELETE", "/pools/lab-b", &[]).await;
    assert_eq!(busy.reason, "delete pool failed: pool 'lab-b' is not empty");
    ok(
        c.call("PUT", "/pools/lab-b", &[("vms", "102"), ("delete", "1")])
            .await,
    );
    ok(c.call("DELETE", "/pools/lab-b", &[]).await);
    ok(c.call("DELETE", "/access/users/student9@pve", &[]).await);
    let gone = Client::new(&sim)
        .call(
            "POST",
            "/access/ticket",
            &[("username", "student9@pve"), ("password", "n3wpass")],
        )
        .await;
    assert_eq!(gone.status, 401);
}

#[tokio::test]
async fn older_servers_can_be_imitated() {
    let (_d, sim) = sim_with(Some(|c| {
        c.version = pvesim::PveVersion::V8;
        c.message_field = false;
    }));
    let c = root(&sim).await;
    assert_eq!(
        c.call("GET", "/version", &[]).await.data()["version"],
        "8.4.1"
    );
    let res = c.call("GET", "/cluster/resources", &[]).await.data();
    let web = find(&res, "qemu/100").cloned().unwrap_or_default();
    assert!(web.get("memhost").is_none(), "no memhost before PVE 9");
    assert!(
        find(&res, "sdn/pve1/localnetwork").is_some(),
        "PVE 8 names the zone sdn"
    );
    let err = c.call("GET", "/nodes/pve1/qemu/999/config", &[]).await;
    assert_eq!(
        err.reason,
        "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
    );
    assert_eq!(
        err.json(),
        serde_json::json!({"data": null}),
        "no message field before libpve-http-server 5.2.0"
    );
}
