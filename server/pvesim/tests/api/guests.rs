//! Guest lifecycle as the portal drives it: tasks and power state, config files written by
//! hand, destroy, template and linked clone on real qcow2 files, digests and snapshots, and
//! guest-agent timing.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::Client;
use crate::sim_with;

async fn root(sim: &pvesim::Sim) -> Client {
    Client::new(sim).login("root@pam", "secret").await
}

fn find<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|e| e["id"] == id)
}

#[tokio::test]
async fn start_shows_running_only_after_the_task_ends() {
    let (_d, sim) = sim_with(Some(|c| c.task_time_scale = 0.3));
    let c = root(&sim).await;
    let upid = c
        .call("POST", "/nodes/pve1/qemu/101/status/start", &[])
        .await
        .data();
    let during = c
        .call("GET", "/nodes/pve1/qemu/101/status/current", &[])
        .await
        .data();
    assert_eq!(during["status"], "stopped");
    let running = c
        .call(
            "GET",
            &format!(
                "/nodes/pve1/tasks/{}/status",
                upid.as_str().unwrap_or_default()
            ),
            &[],
        )
        .await
        .data();
    assert_eq!(running["status"], "running");
    assert!(running.get("exitstatus").is_none());
    let done = c.wait_task(upid.as_str().unwrap_or_default()).await;
    assert_eq!(done["exitstatus"], "OK");
    let after = c
        .call("GET", "/nodes/pve1/qemu/101/status/current", &[])
        .await
        .data();
    assert_eq!(after["status"], "running");
    assert_eq!(after["qmpstatus"], "running");
    // Starting again succeeds over HTTP and fails in the task, as PVE does.
    let again = c
        .call("POST", "/nodes/pve1/qemu/101/status/start", &[])
        .await;
    assert_eq!(again.status, 200);
    let t = c.wait_task(again.data().as_str().unwrap_or_default()).await;
    assert_eq!(t["exitstatus"], "VM 101 already running");
    let log = c
        .call(
            "GET",
            &format!(
                "/nodes/pve1/tasks/{}/log",
                again.data().as_str().unwrap_or_default()
            ),
            &[],
        )
        .await;
    assert_eq!(
        log.json()["data"]
            .as_array()
            .and_then(|l| l.last())
            .map(|l| l["t"].clone()),
        Some(Value::from("TASK ERROR: VM 101 already running"))
    );
}

#[tokio::test]
async fn a_conf_file_written_by_hand_registers_the_guest_and_removing_it_unregisters() {
    let (dir, sim) = sim_with(None);
    let c = root(&sim).await;
    let file = dir.path().join("etc/pve/nodes/pve2/qemu-server/4242.conf");
    std::fs::write(&file, "name: by-hand\ncores: 3\nmemory: 1024\n").expect("write conf");
    let res = c
        .call("GET", "/cluster/resources", &[("type", "vm")])
        .await
        .data();
    let entry = find(&res, "qemu/4242").expect("guest appears");
    assert_eq!(entry["node"], "pve2");
    assert_eq!(entry["name"], "by-hand");
    assert_eq!(entry["maxcpu"], 3);
    // An in-place edit is seen too (no caching across file changes).
    std::fs::write(&file, "name: renamed\ncores: 3\nmemory: 1024\n").expect("rewrite conf");
    let cfg = c
        .call("GET", "/nodes/pve2/qemu/4242/config", &[])
        .await
        .data();
    assert_eq!(cfg["name"], "renamed");
    std::fs::remove_file(&file).expect("rm conf");
    let res = c
        .call("GET", "/cluster/resources", &[("type", "vm")])
        .await
        .data();
    assert!(find(&res, "qemu/4242").is_none());
    let gone = c
        .call("GET", "/nodes/pve2/qemu/4242/status/current", &[])
        .await;
    assert_eq!(gone.status, 500);
    assert_eq!(
        gone.reason,
        "Configuration file 'nodes/pve2/qemu-server/4242.conf' does not exist"
    );
}

#[tokio::test]
async fn delete_removes_the_config_and_the_disk_files() {
    let (dir, sim) = sim_with(None);
    let c = root(&sim).await;
    let disk = dir.path().join("var/lib/vz/images/101/vm-101-disk-0.qcow2");
    assert!(disk.exists(), "seeded disk exists");
    let body = c
        .raw("DELETE", "/nodes/pve1/qemu/101", "", "purge=1".into(), &[])
        .await;
    assert_eq!(
        (body.status, body.reason.as_str()),
        (501, "Unexpected content for method 'DELETE'")
    );
    let r = c
        .call(
            "DELETE",
            "/nodes/pve1/qemu/101",
            &[("purge", "1"), ("destroy-unreferenced-disks", "1")],
        )
        .await;
    assert_eq!(r.status, 200);
    let t = c.wait_task(r.data().as_str().unwrap_or_default()).await;
    assert_eq!(t["exitstatus"], "OK");
    assert!(!disk.exists(), "disk removed");
    assert!(
        !dir.path()
            .join("etc/pve/nodes/pve1/qemu-server/101.conf")
            .exists()
    );
    let pool = c.call("GET", "/pools", &[("poolid", "lab-a")]).await.data();
    assert!(
        !pool[0]["members"]
            .as_array()
            .is_some_and(|m| m.iter().any(|e| e["vmid"] == 101)),
        "purged from pool"
    );
    let running = c.call("DELETE", "/nodes/pve1/qemu/100", &[]).await;
    assert_eq!(running.reason, "VM 100 is running - destroy failed");
}

#[tokio::test]
async fn template_and_linked_clone_use_real_qcow2_files() {
    let (dir, sim) = sim_with(None);
    let c = root(&sim).await;
    std::fs::remove_file(dir.path().join("etc/pve/nodes/pve1/qemu-server/103.conf"))
        .expect("rm 103");
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "150"), ("name", "student-50"), ("pool", "lab-a")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.reason);
    let upid = r.data().as_str().unwrap_or_default().to_string();
    assert!(
        upid.contains(":qmclone:9000:root@pam:"),
        "UPID names the source: {upid}"
    );
    let locked = c
        .call("GET", "/nodes/pve1/qemu/150/config", &[])
        .await
        .data();
    assert_eq!(locked["lock"], "clone");
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let cfg = c
        .call("GET", "/nodes/pve1/qemu/150/config", &[])
        .await
        .data();
    assert_eq!(cfg["name"], "student-50");
    assert!(
        cfg["scsi0"]
            .as_str()
            .unwrap_or_default()
            .starts_with("local:9000/base-9000-disk-0.qcow2/150/vm-150-disk-0.qcow2")
    );
    let disk = dir.path().join("var/lib/vz/images/150/vm-150-disk-0.qcow2");
    assert!(disk.exists());
    let content = c
        .call(
            "GET",
            "/nodes/pve1/storage/local/content",
            &[("content", "images"), ("vmid", "150")],
        )
        .await
        .data();
    assert_eq!(content[0]["parent"], "../9000/base-9000-disk-0.qcow2");
    // Template conversion renames vm- to base-.
    let t = c.call("POST", "/nodes/pve1/qemu/101/template", &[]).await;
    assert_eq!(
        c.wait_task(t.data().as_str().unwrap_or_default()).await["exitstatus"],
        "OK"
    );
    assert!(
        dir.path()
            .join("var/lib/vz/images/101/base-101-disk-0.qcow2")
            .exists()
    );
    let again = c.call("POST", "/nodes/pve1/qemu/101/template", &[]).await;
    assert_eq!(again.reason, "you can't convert a template to a template");
    let dup = c
        .call("POST", "/nodes/pve1/qemu/9000/clone", &[("newid", "150")])
        .await;
    assert_eq!(
        dup.reason,
        "unable to create VM 150: config file already exists"
    );
}

#[tokio::test]
async fn config_digest_and_snapshots_round_trip_through_the_file() {
    let (dir, sim) = sim_with(None);
    let c = root(&sim).await;
    let cfg = c
        .call("GET", "/nodes/pve1/qemu/101/config", &[])
        .await
        .data();
    let digest = cfg["digest"].as_str().unwrap_or_default().to_string();
    let r = c
        .call(
            "PUT",
            "/nodes/pve1/qemu/101/config",
            &[("name", "db-renamed"), ("digest", &digest)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.reason);
    let text = std::fs::read_to_string(dir.path().join("etc/pve/nodes/pve1/qemu-server/101.conf"))
        .expect("conf");
    assert!(text.contains("name: db-renamed\n"));
    let stale = c
        .call(
            "PUT",
            "/nodes/pve1/qemu/101/config",
            &[("name", "x"), ("digest", &digest)],
        )
        .await;
    assert_eq!(
        stale.reason,
        "detected modified configuration - file changed by other user? Try again."
    );
    let s = c
        .call(
            "POST",
            "/nodes/pve1/qemu/101/snapshot",
            &[("snapname", "step1"), ("description", "after step 1")],
        )
        .await;
    assert_eq!(
        c.wait_task(s.data().as_str().unwrap_or_default()).await["exitstatus"],
        "OK"
    );
    let text = std::fs::read_to_string(dir.path().join("etc/pve/nodes/pve1/qemu-server/101.conf"))
        .expect("conf");
    assert!(text.contains("parent: step1\n") && text.contains("\n[step1]\n"));
    let list = c
        .call("GET", "/nodes/pve1/qemu/101/snapshot", &[])
        .await
        .data();
    assert_eq!(
        list.as_array()
            .and_then(|l| l.last())
            .map(|e| e["name"].clone()),
        Some("current".into())
    );
    let dup = c
        .call(
            "POST",
            "/nodes/pve1/qemu/101/snapshot",
            &[("snapname", "step1")],
        )
        .await;
    assert_eq!(
        c.wait_task(dup.data().as_str().unwrap_or_default()).await["exitstatus"],
        "snapshot name 'step1' already used"
    );
}

#[tokio::test]
async fn the_agent_answers_only_after_boot() {
    let (_d, sim) = sim_with(Some(|c| {
        c.agent_boot_delay = Duration::from_millis(800);
        c.agent_timeout = Duration::from_millis(300);
    }));
    let c = root(&sim).await;
    let upid = c
        .call("POST", "/nodes/pve1/qemu/101/status/start", &[])
        .await
        .data();
    c.wait_task(upid.as_str().unwrap_or_default()).await;
    let t = Instant::now();
    let early = c
        .call(
            "GET",
            "/nodes/pve1/qemu/101/agent/network-get-interfaces",
            &[],
        )
        .await;
    assert_eq!(early.reason, "QEMU guest agent is not running");
    assert!(t.elapsed() >= Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let ok = c
        .call(
            "GET",
            "/nodes/pve1/qemu/101/agent/network-get-interfaces",
            &[],
        )
        .await;
    assert_eq!(ok.status, 200);
    let ifaces = ok.data()["result"].clone();
    assert!(
        ifaces.to_string().contains("10.20."),
        "an IPv4 address appears: {ifaces}"
    );
    sim.control().set_agent(101, pvesim::AgentMode::Absent);
    let absent = c.call("POST", "/nodes/pve1/qemu/101/agent/ping", &[]).await;
    assert_eq!(absent.reason, "QEMU guest agent is not running");
}
