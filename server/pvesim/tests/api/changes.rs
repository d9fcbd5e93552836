//! Changing guests: pending changes of running VMs, disk resize, full clones (and where
//! they may go),
//! and containers from create to `interfaces`.

use serde_json::Value;

use crate::client::Client;
use crate::sim_with;

async fn root(sim: &pvesim::Sim) -> Client {
    Client::new(sim).login("root@pam", "secret").await
}

#[tokio::test]
async fn full_clone_copies_the_disk_and_containers_live_their_own_life() {
    let (dir, sim) = sim_with(None);
    let c = root(&sim).await;
    // 101's disk is on the node's own `local`: the copy cannot go to another node.
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/101/clone",
            &[("newid", "160"), ("target", "pve2")],
        )
        .await;
    assert_eq!(
        r.reason,
        "can't clone VM to node 'pve2' (VM uses local storage)"
    );
    let r = c
        .call("POST", "/nodes/pve1/qemu/101/clone", &[("newid", "160")])
        .await;
    assert_eq!(r.status, 200, "{}", r.reason);
    let t = c.wait_task(r.data().as_str().unwrap_or_default()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let cfg = c
        .call("GET", "/nodes/pve1/qemu/160/config", &[])
        .await
        .data();
    assert_eq!(cfg["name"], "Copy-of-VM-db-01");
    assert!(
        cfg["scsi0"]
            .as_str()
            .unwrap_or_default()
            .starts_with("local:160/vm-160-disk-0.qcow2")
    );
    assert!(
        dir.path()
            .join("var/lib/vz/images/160/vm-160-disk-0.qcow2")
            .exists()
    );
    assert_ne!(
        cfg["net0"],
        c.call("GET", "/nodes/pve1/qemu/101/config", &[])
            .await
            .data()["net0"],
        "new MAC"
    );

    let ct = c
        .call(
            "POST",
            "/nodes/pve2/lxc",
            &[
                ("vmid", "210"),
                (
                    "ostemplate",
                    "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
                ),
                ("hostname", "ct-web"),
                ("rootfs", "local-lvm:8"),
                ("net0", "name=eth0,bridge=vmbr0,ip=dhcp"),
                ("memory", "512"),
            ],
        )
        .await;
    assert_eq!(ct.status, 200, "{}", ct.reason);
    assert!(
        ct.data()
            .as_str()
            .unwrap_or_default()
            .contains(":vzcreate:210:")
    );
    assert_eq!(
        c.wait_task(ct.data().as_str().unwrap_or_default()).await["exitstatus"],
        "OK"
    );
    let cfg = c
        .call("GET", "/nodes/pve2/lxc/210/config", &[])
        .await
        .data();
    assert_eq!(cfg["memory"], 512, "LXC memory is an integer");
    assert!(
        cfg["rootfs"]
            .as_str()
            .unwrap_or_default()
            .starts_with("local-lvm:vm-210-disk-0")
    );
    assert!(
        cfg["net0"]
            .as_str()
            .unwrap_or_default()
            .contains("hwaddr=BC:24:11:")
    );
    assert_eq!(
        c.call("GET", "/nodes/pve2/lxc/210/interfaces", &[])
            .await
            .data(),
        Value::Null
    );
    let s = c
        .call("POST", "/nodes/pve2/lxc/210/status/start", &[])
        .await
        .data();
    assert!(s.as_str().unwrap_or_default().contains(":vzstart:210:"));
    c.wait_task(s.as_str().unwrap_or_default()).await;
    let ifaces = c
        .call("GET", "/nodes/pve2/lxc/210/interfaces", &[])
        .await
        .data();
    assert_eq!(ifaces[1]["ip-addresses"][0]["ip-address-type"], "inet");
    let list = c.call("GET", "/nodes/pve2/lxc", &[]).await.data();
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|e| e["vmid"] == 210 && e["type"] == "lxc"))
    );
}

#[tokio::test]
async fn resize_grows_the_disk_and_tasks_are_listed_cluster_wide() {
    let (dir, sim) = sim_with(None);
    let c = root(&sim).await;
    let r = c
        .call(
            "PUT",
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "+16G")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.reason);
    let upid = r.data().as_str().unwrap_or_default().to_string();
    assert!(upid.contains(":resize:101:"));
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let cfg = c
        .call("GET", "/nodes/pve1/qemu/101/config", &[])
        .await
        .data();
    assert!(
        cfg["scsi0"]
            .as_str()
            .unwrap_or_default()
            .ends_with("size=80G"),
        "{}",
        cfg["scsi0"]
    );
    let info = std::process::Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(dir.path().join("var/lib/vz/images/101/vm-101-disk-0.qcow2"))
        .output();
    if let Ok(out) = info
        && out.status.success()
    {
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_eq!(v["virtual-size"], 80u64 << 30);
    }
    let shrink = c
        .call(
            "PUT",
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "10G")],
        )
        .await;
    assert_eq!(shrink.reason, "shrinking disks is not supported");
    let tasks = c.call("GET", "/cluster/tasks", &[]).await.data();
    assert!(
        tasks
            .as_array()
            .is_some_and(|l| l.iter().any(|t| t["upid"] == upid.as_str()))
    );
    let net = c.call("GET", "/nodes/pve1/network", &[]).await.data();
    assert!(net.as_array().is_some_and(|l| {
        l.iter()
            .any(|i| i["iface"] == "vmbr0" && i["type"] == "bridge")
    }));
}

#[tokio::test]
async fn changes_to_a_running_vm_stay_pending_until_the_next_start() {
    let (dir, sim) = sim_with(None);
    let c = root(&sim).await;
    let r = c
        .call(
            "PUT",
            "/nodes/pve1/qemu/100/config",
            &[("cores", "4"), ("name", "web-renamed"), ("delete", "numa")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.reason);
    let merged = c
        .call("GET", "/nodes/pve1/qemu/100/config", &[])
        .await
        .data();
    assert_eq!(
        (merged["cores"].clone(), merged["name"].clone()),
        (4.into(), "web-renamed".into())
    );
    assert!(merged.get("numa").is_none());
    let current = c
        .call("GET", "/nodes/pve1/qemu/100/config", &[("current", "1")])
        .await
        .data();
    assert_eq!(
        (current["cores"].clone(), current["name"].clone()),
        (2.into(), "web-renamed".into())
    );
    let pending = c
        .call("GET", "/nodes/pve1/qemu/100/pending", &[])
        .await
        .data();
    let cores = pending
        .as_array()
        .and_then(|l| l.iter().find(|e| e["key"] == "cores"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (cores["value"].clone(), cores["pending"].clone()),
        (2.into(), 4.into())
    );
    let numa = pending
        .as_array()
        .and_then(|l| l.iter().find(|e| e["key"] == "numa"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(numa["delete"], 1);
    let text = std::fs::read_to_string(dir.path().join("etc/pve/nodes/pve1/qemu-server/100.conf"))
        .expect("conf");
    assert!(
        text.contains("\n[PENDING]\ncores: 4\ndelete: numa\n"),
        "{text}"
    );
    for action in ["stop", "start"] {
        let u = c
            .call(
                "POST",
                &format!("/nodes/pve1/qemu/100/status/{action}"),
                &[],
            )
            .await
            .data();
        assert_eq!(
            c.wait_task(u.as_str().unwrap_or_default()).await["exitstatus"],
            "OK"
        );
    }
    let after = c
        .call("GET", "/nodes/pve1/qemu/100/config", &[("current", "1")])
        .await
        .data();
    assert_eq!(after["cores"], 4);
    assert!(after.get("numa").is_none());
    let text = std::fs::read_to_string(dir.path().join("etc/pve/nodes/pve1/qemu-server/100.conf"))
        .expect("conf");
    assert!(!text.contains("[PENDING]"));
}
