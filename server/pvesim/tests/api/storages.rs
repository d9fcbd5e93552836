//! Block storages as pve-storage keeps them: volume names, templates' `base-` volumes,
//! linked clones per storage kind, what each kind refuses, content and thin usage.

use std::time::Instant;

use pvesim::ExtraStorage;
use serde_json::Value;
use sha2::Digest;

use crate::client::Client;
use crate::sim_with;

/// The generated world (no fixture guests) with every storage kind.
fn every_storage(c: &mut pvesim::SimConfig) {
    c.fixture_world = false;
    c.vms = 0;
    c.templates = 0;
    c.containers = 0;
    c.extra_storages = vec![
        ExtraStorage::LocalZfs,
        ExtraStorage::Ceph,
        ExtraStorage::Lvm,
        ExtraStorage::Nfs,
    ];
}

async fn root(sim: &pvesim::Sim) -> Client {
    Client::new(sim).login("root@pam", "secret").await
}

/// Runs a task-starting call to its end; the task's exit status.
async fn task(c: &Client, method: &str, path: &str, params: &[(&str, &str)]) -> String {
    let r = c.call(method, path, params).await;
    assert_eq!(r.status, 200, "{path}: {}", r.reason);
    let upid = r.data().as_str().unwrap_or_default().to_string();
    c.wait_task(&upid).await["exitstatus"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn config(c: &Client, node: &str, vmid: u32) -> Value {
    c.call("GET", &format!("/nodes/{node}/qemu/{vmid}/config"), &[])
        .await
        .data()
}

fn volid(conf: &Value, key: &str) -> String {
    conf[key]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn content(c: &Client, node: &str, storage: &str) -> Vec<Value> {
    c.call(
        "GET",
        &format!("/nodes/{node}/storage/{storage}/content"),
        &[],
    )
    .await
    .data()
    .as_array()
    .cloned()
    .unwrap_or_default()
}

/// A stopped VM with one 4 GiB disk on `storage`, made a template.
async fn template_on(c: &Client, vmid: u32, storage: &str) -> String {
    let id = vmid.to_string();
    let disk = format!("{storage}:4");
    let made = task(
        c,
        "POST",
        "/nodes/pve1/qemu",
        &[("vmid", &id), ("name", "tpl"), ("scsi0", &disk)],
    )
    .await;
    assert_eq!(made, "OK");
    assert_eq!(
        volid(&config(c, "pve1", vmid).await, "scsi0"),
        format!("{storage}:vm-{vmid}-disk-0")
    );
    let made = task(c, "POST", &format!("/nodes/pve1/qemu/{vmid}/template"), &[]).await;
    assert_eq!(made, "OK");
    volid(&config(c, "pve1", vmid).await, "scsi0")
}

#[tokio::test]
async fn linked_clones_per_block_storage_kind() {
    let (_d, sim) = sim_with(Some(every_storage));
    let c = root(&sim).await;
    // (storage, the clone's volid, whether the base then cannot be destroyed)
    for (storage, vmid, clone_volid, base_stays) in [
        ("local-lvm", 800, "local-lvm:vm-801-disk-0", false),
        (
            "local-zfs",
            810,
            "local-zfs:base-810-disk-0/vm-811-disk-0",
            true,
        ),
        ("ceph", 820, "ceph:base-820-disk-0/vm-821-disk-0", true),
    ] {
        let base = template_on(&c, vmid, storage).await;
        assert_eq!(base, format!("{storage}:base-{vmid}-disk-0"));
        let newid = (vmid + 1).to_string();
        let cloned = task(
            &c,
            "POST",
            &format!("/nodes/pve1/qemu/{vmid}/clone"),
            &[("newid", &newid), ("full", "0")],
        )
        .await;
        assert_eq!(cloned, "OK", "{storage}");
        let conf = config(&c, "pve1", vmid + 1).await;
        assert_eq!(volid(&conf, "scsi0"), clone_volid);
        let listed = content(&c, "pve1", storage).await;
        let entry = listed
            .iter()
            .find(|e| e["volid"] == clone_volid)
            .unwrap_or_else(|| panic!("{clone_volid} listed: {listed:?}"));
        assert_eq!(entry["vmid"], vmid + 1);
        assert_eq!(entry["size"], 4u64 << 30);
        // zfs and rbd name the base snapshot; an lvmthin thin snapshot does not.
        if base_stays {
            assert_eq!(entry["parent"], format!("base-{vmid}-disk-0@__base__"));
        } else {
            assert!(entry.get("parent").is_none(), "{entry}");
        }
        // Destroying the template while the clone lives.
        let destroyed = task(&c, "DELETE", &format!("/nodes/pve1/qemu/{vmid}"), &[]).await;
        let volids: Vec<Value> = content(&c, "pve1", storage)
            .await
            .iter()
            .map(|e| e["volid"].clone())
            .collect();
        if base_stays {
            assert_eq!(
                destroyed,
                format!("base volume '{base}' is still in use by linked cloned"),
                "{storage}"
            );
            assert!(volids.contains(&Value::from(base.clone())));
        } else {
            // "LVM-thin allows deletion of still referenced base volumes!"
            assert_eq!(destroyed, "OK");
            assert!(!volids.contains(&Value::from(base.clone())));
        }
        assert!(volids.contains(&Value::from(clone_volid)), "{volids:?}");
        // The clone goes; then the base may.
        let gone = task(&c, "DELETE", &format!("/nodes/pve1/qemu/{newid}"), &[]).await;
        assert_eq!(gone, "OK");
        if base_stays {
            assert_eq!(
                task(&c, "DELETE", &format!("/nodes/pve1/qemu/{vmid}"), &[]).await,
                "OK"
            );
        }
        assert!(content(&c, "pve1", storage).await.is_empty(), "{storage}");
    }
}

#[tokio::test]
async fn what_each_storage_refuses() {
    let (_d, sim) = sim_with(Some(every_storage));
    let c = root(&sim).await;
    // A linked clone of an ordinary VM: its volume is no base.
    let made = task(
        &c,
        "POST",
        "/nodes/pve1/qemu",
        &[("vmid", "700"), ("scsi0", "local-lvm:2")],
    )
    .await;
    assert_eq!(made, "OK");
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/700/clone",
            &[("newid", "701"), ("full", "0")],
        )
        .await;
    assert_eq!(
        r.reason,
        "Linked clone feature is not supported for 'local-lvm:vm-700-disk-0' (scsi0)"
    );
    // Plain LVM holds no base: the template keeps its vm- volume, and cannot be linked to.
    let base = template_on_plain_lvm(&c).await;
    assert_eq!(base, "vmdata:vm-710-disk-0");
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/710/clone",
            &[("newid", "711"), ("full", "0")],
        )
        .await;
    assert_eq!(
        r.reason,
        "Linked clone feature is not supported for 'vmdata:vm-710-disk-0' (scsi0)"
    );
    // A full clone onto plain LVM from an lvmthin template works.
    let tpl = template_on(&c, 720, "local-lvm").await;
    assert_eq!(tpl, "local-lvm:base-720-disk-0");
    let full = task(
        &c,
        "POST",
        "/nodes/pve1/qemu/720/clone",
        &[("newid", "721"), ("full", "1"), ("storage", "vmdata")],
    )
    .await;
    assert_eq!(full, "OK");
    assert_eq!(
        volid(&config(&c, "pve1", 721).await, "scsi0"),
        "vmdata:vm-721-disk-0"
    );
    // Local storage stays on its node; a shared pool does not.
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/720/clone",
            &[("newid", "722"), ("target", "pve2")],
        )
        .await;
    assert_eq!(
        r.reason,
        "can't clone VM to node 'pve2' (VM uses local storage)"
    );
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/720/clone",
            &[
                ("newid", "722"),
                ("full", "1"),
                ("target", "pve2"),
                ("storage", "local-lvm"),
            ],
        )
        .await;
    assert_eq!(r.reason, "can't clone to non-shared storage 'local-lvm'");
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/720/clone",
            &[("newid", "722"), ("full", "0"), ("storage", "ceph")],
        )
        .await;
    assert_eq!(
        r.reason,
        "parameter 'storage' not allowed for linked clones"
    );
    template_on(&c, 730, "ceph").await;
    let on_pve2 = task(
        &c,
        "POST",
        "/nodes/pve1/qemu/730/clone",
        &[("newid", "731"), ("target", "pve2")],
    )
    .await;
    assert_eq!(on_pve2, "OK");
    assert_eq!(
        volid(&config(&c, "pve2", 731).await, "scsi0"),
        "ceph:base-730-disk-0/vm-731-disk-0"
    );
    // pve2's own local-lvm is another volume group: pve1's volumes are not there.
    assert!(content(&c, "pve2", "local-lvm").await.is_empty());
    assert!(!content(&c, "pve2", "ceph").await.is_empty());
}

async fn template_on_plain_lvm(c: &Client) -> String {
    let made = task(
        c,
        "POST",
        "/nodes/pve1/qemu",
        &[("vmid", "710"), ("scsi0", "vmdata:2")],
    )
    .await;
    assert_eq!(made, "OK");
    let made = task(c, "POST", "/nodes/pve1/qemu/710/template", &[]).await;
    assert_eq!(made, "OK");
    let conf = config(c, "pve1", 710).await;
    assert_eq!(conf["template"], 1);
    volid(&conf, "scsi0")
}

#[tokio::test]
async fn full_clones_take_time_by_size_and_fill_the_thin_pool() {
    let (_d, sim) = sim_with(Some(|c| {
        every_storage(c);
        c.templates = 1;
        c.template_storage = "local-lvm".into();
        c.task_time_scale = 0.1;
    }));
    let c = root(&sim).await;
    let tpl = config(&c, "pve1", 9000).await;
    assert_eq!(volid(&tpl, "scsi0"), "local-lvm:base-9000-disk-0");
    let used = |s: Value| s["used"].as_u64().unwrap_or_default();
    let before = used(
        c.call("GET", "/nodes/pve1/storage/local-lvm/status", &[])
            .await
            .data(),
    );
    assert!(before > 0, "the template's data is in the pool");
    let started = Instant::now();
    let linked = task(
        &c,
        "POST",
        "/nodes/pve1/qemu/9000/clone",
        &[("newid", "100")],
    )
    .await;
    assert_eq!(linked, "OK");
    let after_linked = used(
        c.call("GET", "/nodes/pve1/storage/local-lvm/status", &[])
            .await
            .data(),
    );
    assert_eq!(after_linked, before, "a thin snapshot holds nothing yet");
    let linked_took = started.elapsed();
    let started = Instant::now();
    let full = task(
        &c,
        "POST",
        "/nodes/pve1/qemu/9000/clone",
        &[("newid", "101"), ("full", "1")],
    )
    .await;
    assert_eq!(full, "OK");
    let full_took = started.elapsed();
    let after_full = used(
        c.call("GET", "/nodes/pve1/storage/local-lvm/status", &[])
            .await
            .data(),
    );
    assert_eq!(
        after_full,
        2 * before,
        "a full copy holds what the base holds"
    );
    // The template holds a third of 10 GiB: at 400 MiB/s plus a second, 9.5 s; scaled 0.95 s.
    assert!(
        full_took.as_secs_f64() >= 0.9,
        "full clone took {full_took:?}"
    );
    println!("linked clone {linked_took:?}, full clone {full_took:?}");
}

async fn task_log(c: &Client, upid: &str) -> Vec<String> {
    let node = upid.split(':').nth(1).unwrap_or("pve1");
    c.call("GET", &format!("/nodes/{node}/tasks/{upid}/log"), &[])
        .await
        .data()
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["t"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn offline_migration_copies_local_disks_to_the_target_node() {
    let (_d, sim) = sim_with(Some(every_storage));
    let c = root(&sim).await;
    template_on(&c, 900, "local-lvm").await;
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/900/migrate",
            &[("target", "pve2"), ("with-local-disks", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.reason);
    let upid = r.data().as_str().unwrap_or_default().to_string();
    assert!(upid.contains(":qmigrate:900:"), "{upid}");
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let log = task_log(&c, &upid).await;
    // `2026-12-05 09:30:00 volume ...`: stamped as AbstractMigrate prints.
    let said = |log: &[String], text: &str| {
        log.iter()
            .any(|l| l.len() > 20 && l.as_bytes()[4] == b'-' && &l[20..] == text)
    };
    assert!(
        said(
            &log,
            "volume 'local-lvm:base-900-disk-0' is 'local-lvm:base-900-disk-0' on the target"
        ),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("migration finished successfully (duration 00:00:"))
    );
    let conf = config(&c, "pve2", 900).await;
    assert_eq!(volid(&conf, "scsi0"), "local-lvm:base-900-disk-0");
    assert_eq!(conf["template"], 1);
    assert!(content(&c, "pve1", "local-lvm").await.is_empty());
    assert_eq!(content(&c, "pve2", "local-lvm").await.len(), 1);
    // The copy on pve2 is a base to link to there.
    let cloned = task(
        &c,
        "POST",
        "/nodes/pve2/qemu/900/clone",
        &[("newid", "901")],
    )
    .await;
    assert_eq!(cloned, "OK");
    // Back to pve1 onto another storage: the clone on pve2 does not hold the lvmthin base.
    let back = task(
        &c,
        "POST",
        "/nodes/pve2/qemu/900/migrate",
        &[("target", "pve1"), ("targetstorage", "local-zfs")],
    )
    .await;
    assert_eq!(back, "OK");
    assert_eq!(
        volid(&config(&c, "pve1", 900).await, "scsi0"),
        "local-zfs:base-900-disk-0"
    );

    // zfs: the base with a clone stays, and so does the clone.
    let cloned = task(
        &c,
        "POST",
        "/nodes/pve1/qemu/900/clone",
        &[("newid", "902")],
    )
    .await;
    assert_eq!(cloned, "OK");
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/900/migrate",
            &[("target", "pve2")],
        )
        .await;
    let upid = r.data().as_str().unwrap_or_default().to_string();
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "migration aborted");
    let log = task_log(&c, &upid).await;
    assert!(
        log.iter().any(|l| l.ends_with(
            " can't migrate local disk 'local-zfs:base-900-disk-0': referenced by linked clone(s)"
        )),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains(" ERROR: migration aborted (duration ")
                && l.ends_with("): can't migrate VM - check log")),
        "{log:?}"
    );
    let clone_moved = task(
        &c,
        "POST",
        "/nodes/pve1/qemu/902/migrate",
        &[("target", "pve2")],
    )
    .await;
    assert_eq!(clone_moved, "migration aborted");
    assert!(
        config(&c, "pve1", 900).await["template"] == 1,
        "nothing moved"
    );

    // What is refused before a task starts.
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/900/migrate",
            &[("target", "pve1")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("target is local node."), "{}", r.text());
    let made = task(
        &c,
        "POST",
        "/nodes/pve1/qemu",
        &[("vmid", "910"), ("scsi0", "local-lvm:2")],
    )
    .await;
    assert_eq!(made, "OK");
    assert_eq!(
        task(&c, "POST", "/nodes/pve1/qemu/910/status/start", &[]).await,
        "OK"
    );
    let r = c
        .call(
            "POST",
            "/nodes/pve1/qemu/910/migrate",
            &[("target", "pve2")],
        )
        .await;
    assert_eq!(r.reason, "can't migrate running VM without --online");
}

/// `download-url` and deleting content, with pve-storage's checks: privileges, file storages
/// only, the file-name rules, no overwriting without a checksum, and the task's errors.
#[tokio::test]
async fn iso_files_are_downloaded_and_deleted_with_pve_storage_checks() {
    let (_dir, sim) = sim_with(Some(every_storage));
    let c = root(&sim).await;
    let path = "/nodes/pve1/storage/local/download-url";
    let url = ("url", "http://127.0.0.1:9/x.iso");

    // A user with VM privileges only: 403 before anything happens.
    let student = Client::new(&sim).login("student1@pve", "secret").await;
    let r = student
        .call(
            "POST",
            path,
            &[url, ("content", "iso"), ("filename", "x.iso")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.reason);

    // Parameters and storages, refused synchronously.
    let r = c
        .call(
            "POST",
            path,
            &[url, ("content", "iso"), ("filename", "x.exe")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("wrong file extension"), "{}", r.text());
    let r = c
        .call(
            "POST",
            path,
            &[
                ("url", "ftp://h/x.iso"),
                ("content", "iso"),
                ("filename", "x.iso"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = c
        .call(
            "POST",
            "/nodes/pve1/storage/local-lvm/download-url",
            &[url, ("content", "iso"), ("filename", "x.iso")],
        )
        .await;
    assert_eq!(r.status, 500);
    assert!(
        r.reason.contains("not a file based storage"),
        "{}",
        r.reason
    );
    let r = c
        .call(
            "POST",
            path,
            &[
                url,
                ("content", "iso"),
                ("filename", "x.iso"),
                ("checksum", "ab"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());

    // The task's own errors: an existing file without a checksum, and a fetch that fails
    // (nothing listens on port 9), leaving no file.
    let exit = task(
        &c,
        "POST",
        path,
        &[
            url,
            ("content", "iso"),
            ("filename", "debian-12.7.0-amd64-netinst.iso"),
        ],
    )
    .await;
    assert!(
        exit.starts_with("refusing to override existing file"),
        "{exit}"
    );
    let exit = task(
        &c,
        "POST",
        path,
        &[url, ("content", "iso"), ("filename", "new.iso")],
    )
    .await;
    assert!(exit.starts_with("download failed"), "{exit}");
    assert!(
        !content(&c, "pve1", "local")
            .await
            .iter()
            .any(|e| e["volid"] == "local:iso/new.iso")
    );

    // Delete: the volume id names the storage; the file goes; a second time fails.
    let volid = "local:iso/virtio-win-0.1.266.iso";
    // Clients encode the volume id as one path segment.
    let delete = format!(
        "/nodes/pve1/storage/local/content/{}",
        volid.replace(':', "%3A").replace('/', "%2F")
    );
    assert_eq!(task(&c, "DELETE", &delete, &[]).await, "OK");
    assert!(
        !content(&c, "pve1", "local")
            .await
            .iter()
            .any(|e| e["volid"] == volid)
    );
    let exit = task(&c, "DELETE", &delete, &[]).await;
    assert!(exit.contains("No such file"), "{exit}");
    let r = c
        .call(
            "DELETE",
            "/nodes/pve1/storage/local/content/isos%3Aiso%2Fx.iso",
            &[],
        )
        .await;
    assert!(r.reason.contains("storage ID mismatch"), "{}", r.reason);
    let r = student.call("DELETE", &delete, &[]).await;
    assert_eq!(r.status, 403);
}

/// `upload`, as pveproxy and pve-storage take it: the fields before the file, the file as the
/// part named `filename`, file storages only, ISO names only, the checksum checked by the
/// `imgcopy` task, which copies the spooled file in.
#[tokio::test]
async fn iso_files_are_uploaded_with_pveproxy_and_pve_storage_checks() {
    let (_dir, sim) = sim_with(Some(every_storage));
    let c = root(&sim).await;
    let path = "/nodes/pve1/storage/local/upload";
    let body = "not really an ISO, but pvesim does not ask `file`";

    // The file under another part name: pveproxy refuses it.
    let r = c
        .multipart(
            path,
            &[("content", None, "iso"), ("file", Some("a.iso"), body)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("expected 'filename'"), "{}", r.text());
    // A block storage, a name that is no ISO's.
    let r = c
        .multipart(
            "/nodes/pve1/storage/local-lvm/upload",
            &[("content", None, "iso"), ("filename", Some("a.iso"), body)],
        )
        .await;
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.text().contains("can't upload to storage type"),
        "{}",
        r.text()
    );
    let r = c
        .multipart(
            path,
            &[("content", None, "iso"), ("filename", Some("a.exe"), body)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("wrong file extension"), "{}", r.text());
    // A user without Datastore.AllocateTemplate.
    let student = Client::new(&sim).login("student1@pve", "secret").await;
    let r = student
        .multipart(
            path,
            &[("content", None, "iso"), ("filename", Some("a.iso"), body)],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.reason);

    // A wrong checksum fails the task; the right one copies the file in, under the name
    // made safe.
    let r = c
        .multipart(
            path,
            &[
                ("content", None, "iso"),
                ("checksum-algorithm", None, "sha256"),
                ("checksum", None, &"0".repeat(64)),
                ("filename", Some("bad.iso"), body),
            ],
        )
        .await;
    let status = c.wait_task(r.data().as_str().unwrap()).await;
    assert_ne!(status["exitstatus"], "OK", "{status}");
    let sum: String = sha2::Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = c
        .multipart(
            path,
            &[
                ("content", None, "iso"),
                ("checksum-algorithm", None, "sha256"),
                ("checksum", None, &sum),
                ("filename", Some("my tools.iso"), body),
            ],
        )
        .await;
    let upid = r.data().as_str().unwrap().to_string();
    assert!(upid.contains(":imgcopy:"), "{upid}");
    let status = c.wait_task(&upid).await;
    assert_eq!(status["exitstatus"], "OK", "{status}");
    let listed = c
        .call(
            "GET",
            "/nodes/pve1/storage/local/content",
            &[("content", "iso")],
        )
        .await
        .data();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["volid"] == "local:iso/my_tools.iso"),
        "{listed}"
    );
}
