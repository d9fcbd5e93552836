//! The ISO library against pvesim and a real HTTP server on loopback: the full sync lists
//! every ISO storage's images (a node's own `local` per node); Proxmox downloads a file from
//! a URL with its checksum checked, the portal follows the task to its end, and the list then
//! has the file; a wrong checksum fails with Proxmox's words and leaves no file; a transfer
//! whose follower died (a portal restart) is ended by the next full sync; delete removes the
//! file; bad input changes nothing; students never, and teachers only on clusters that allow
//! it, touch ISOs.

#[path = "support/world.rs"]
mod world;

use lab::db::entity::{cluster_iso, iso_transfer};
use lab::model::{IsoDownloadForm, IsoPage, Role, TransferState};
use lab::{Error, clusters, isos};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use sha2::Digest;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use world::{SimWorld, make_user, sim_world};

/// Serves `body` at `/file.iso` (and 404 elsewhere) on loopback; returns the base URL.
async fn file_server(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request);
                let found = head.starts_with("GET /file.iso ");
                let (status, body) = if found {
                    ("200 OK", body)
                } else {
                    ("404 Not Found", b"no".to_vec())
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/x-iso9660-image\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn full_sync(w: &SimWorld) {
    let cluster = clusters::find(&w.services, w.cluster_id).await.unwrap();
    lab::sync::full::run(&w.services, &cluster, None)
        .await
        .unwrap();
}

fn names(p: &IsoPage) -> Vec<(String, String, Option<String>)> {
    p.isos
        .iter()
        .map(|i| (i.name.clone(), i.storage.clone(), i.node.clone()))
        .collect()
}

/// Waits until transfer `id` has ended (its follower runs on the services' tracker).
async fn ended(w: &SimWorld, id: i32) -> iso_transfer::Model {
    for _ in 0..500 {
        let row = iso_transfer::Entity::find_by_id(id)
            .one(&w.services.db)
            .await
            .unwrap()
            .unwrap();
        if row.state != TransferState::Running {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("transfer {id} still runs");
}

fn form(target: &str, url: &str, filename: &str, checksum: &str) -> IsoDownloadForm {
    IsoDownloadForm {
        target: target.into(),
        url: url.into(),
        filename: filename.into(),
        checksum: checksum.into(),
    }
}

async fn transfers(w: &SimWorld) -> u64 {
    iso_transfer::Entity::find()
        .count(&w.services.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_lists_downloads_and_deletes_isos() {
    let w = sim_world(|_| {}).await;
    let admin = make_user(&w.services, "admin1", Role::Admin).await;
    full_sync(&w).await;
    let page = isos::page(&w.services, &admin).await.unwrap();
    // The test world: `local` (dir) on each of its two nodes, and the NFS storage `isos`
    // shared by both, listed once; three ISOs on each.
    assert_eq!(page.isos.len(), 9, "{:?}", names(&page));
    let shared: Vec<_> = page.isos.iter().filter(|i| i.storage == "isos").collect();
    assert_eq!(shared.len(), 3);
    assert!(shared.iter().all(|i| i.node.is_none()));
    assert!(
        page.isos
            .iter()
            .filter(|i| i.storage == "local")
            .all(|i| i.node.is_some())
    );
    assert!(page.isos.iter().any(|i| i.name == "virtio-win-0.1.266.iso"
        && i.size == 728_322_048
        && i.node.as_deref() == Some("pve1")));
    assert!(page.read_at.is_some());
    let targets: Vec<&str> = page.targets.iter().map(|t| t.value.as_str()).collect();
    let target = format!("{}/pve2/local", w.cluster_id);
    assert!(targets.contains(&target.as_str()), "{targets:?}");
    // A shared storage is one target; Proxmox picks no node for it, the portal an online one.
    assert!(
        targets.contains(&format!("{}//isos", w.cluster_id).as_str()),
        "{targets:?}"
    );
    assert!(
        !targets.iter().any(|t| t.ends_with("/local-lvm")),
        "{targets:?}"
    );

    // A download with the right checksum: Proxmox fetches, checks, renames; the portal
    // follows the task to 100 % and the list has the file after the next full sync.
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let sum = sha2::Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let base = file_server(body.clone()).await;
    let url = format!("{base}/file.iso");
    let t = isos::download(
        &w.services,
        &admin,
        &form(&target, &url, "lab-tools.iso", &sum.to_uppercase()),
    )
    .await
    .unwrap();
    assert_eq!(t.state, TransferState::Running);
    assert_eq!(t.node, "pve2");
    let done = ended(&w, t.id).await;
    assert_eq!(done.state, TransferState::Done, "{:?}", done.message);
    assert_eq!(done.percent, Some(100));
    let file = w.root.join("var/lib/vz/template/iso/lab-tools.iso");
    assert_eq!(std::fs::read(&file).unwrap(), body);
    full_sync(&w).await;
    let page = isos::page(&w.services, &admin).await.unwrap();
    assert!(
        page.isos
            .iter()
            .any(|i| i.name == "lab-tools.iso" && i.size == 3_000_000),
        "{:?}",
        names(&page)
    );
    assert_eq!(page.transfers[0].state, TransferState::Done);

    // A wrong checksum: Proxmox's words, no file left behind.
    let wrong = "0".repeat(64);
    let t = isos::download(&w.services, &admin, &form(&target, &url, "bad.iso", &wrong))
        .await
        .unwrap();
    let failed = ended(&w, t.id).await;
    assert_eq!(failed.state, TransferState::Failed);
    assert!(
        failed
            .message
            .as_deref()
            .is_some_and(|m| m.contains("checksum mismatch")),
        "{:?}",
        failed.message
    );
    assert!(!w.root.join("var/lib/vz/template/iso/bad.iso").exists());
    let leftovers: Vec<_> = std::fs::read_dir(w.root.join("var/lib/vz/template/iso"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A URL that answers 404: the task fails with wget's error.
    let t = isos::download(
        &w.services,
        &admin,
        &form(&target, &format!("{base}/missing.iso"), "", ""),
    )
    .await
    .unwrap();
    let failed = ended(&w, t.id).await;
    assert_eq!(failed.state, TransferState::Failed);
    assert!(failed.message.as_deref().unwrap_or("").contains("404"));

    // Bad input is refused before Proxmox is asked, and records nothing.
    let before = transfers(&w).await;
    for (bad, why) in [
        (form(&target, "ftp://host/x.iso", "", ""), "url"),
        (form(&target, &url, "../evil.iso", ""), "name"),
        (form(&target, &url, "x.exe", ""), "extension"),
        (form(&target, &url, "", "1234"), "checksum"),
        (form("x/pve1/local", &url, "a.iso", ""), "target"),
        (
            form(
                &format!("{}/pve1/local-lvm", w.cluster_id),
                &url,
                "a.iso",
                "",
            ),
            "no iso content",
        ),
        (
            form(&format!("{}/pve9/local", w.cluster_id), &url, "a.iso", ""),
            "no such node",
        ),
        (form(&target, &url, "lab-tools.iso", ""), "exists"),
    ] {
        let result = isos::download(&w.services, &admin, &bad).await;
        assert!(
            matches!(result, Err(Error::Invalid(_) | Error::Conflict(_))),
            "{why}: {result:?}"
        );
    }
    assert_eq!(transfers(&w).await, before);

    // Delete: the file goes, and the row with it.
    let volid = "local:iso/lab-tools.iso";
    isos::delete(&w.services, &admin, w.cluster_id, volid, Some("pve2"))
        .await
        .unwrap();
    assert!(!file.exists());
    let page = isos::page(&w.services, &admin).await.unwrap();
    assert!(
        !page
            .isos
            .iter()
            .any(|i| i.name == "lab-tools.iso" && i.node.as_deref() == Some("pve2"))
    );
    let again = isos::delete(&w.services, &admin, w.cluster_id, volid, Some("pve2")).await;
    assert!(matches!(again, Err(Error::NotFound(_))), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_left_running_by_a_dead_portal_is_ended_by_the_full_sync() {
    let w = sim_world(|_| {}).await;
    full_sync(&w).await;
    let body = vec![7u8; 100_000];
    let base = file_server(body).await;
    // Proxmox is asked directly, as a portal that died right after recording would have.
    let cluster = clusters::find(&w.services, w.cluster_id).await.unwrap();
    let client = clusters::client(&w.services, &cluster).unwrap();
    let url = format!("{base}/file.iso");
    let upid = client
        .download_iso(
            "pve1",
            "local",
            &lab::pve::IsoDownload {
                url: &url,
                filename: "orphan.iso",
                checksum: None,
            },
        )
        .await
        .unwrap();
    w.wait_task(&upid).await;
    let row = iso_transfer::ActiveModel {
        cluster_id: Set(w.cluster_id),
        node: Set("pve1".into()),
        storage: Set("local".into()),
        filename: Set("orphan.iso".into()),
        url: Set(url),
        upid: Set(upid),
        state: Set(TransferState::Running),
        created_at: Set(0),
        ..Default::default()
    }
    .insert(&w.services.db)
    .await
    .unwrap();
    full_sync(&w).await;
    let row = iso_transfer::Entity::find_by_id(row.id)
        .one(&w.services.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, TransferState::Done);
    assert!(row.finished_at.is_some());
    // The ended transfer asked for the lists again: the next full sync has the file.
    full_sync(&w).await;
    let listed = cluster_iso::Entity::find()
        .all(&w.services.db)
        .await
        .unwrap()
        .into_iter()
        .any(|i| i.volid == "local:iso/orphan.iso" && i.node == "pve1");
    assert!(listed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_and_allowed_teachers_touch_isos() {
    let w = sim_world(|_| {}).await;
    full_sync(&w).await;
    let teacher = make_user(&w.services, "teacher1", Role::Teacher).await;
    let student = make_user(&w.services, "student1", Role::Student).await;
    let target = format!("{}/pve1/local", w.cluster_id);
    let url = "http://127.0.0.1:9/file.iso";
    let volid = "local:iso/debian-12.7.0-amd64-netinst.iso";

    // The cluster does not let teachers build: they see nothing and may do nothing.
    let page = isos::page(&w.services, &teacher).await.unwrap();
    assert!(page.isos.is_empty() && page.targets.is_empty());
    let refused = isos::download(&w.services, &teacher, &form(&target, url, "t.iso", "")).await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
    let refused = isos::delete(&w.services, &teacher, w.cluster_id, volid, Some("pve1")).await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
    // Students never, whatever the cluster allows.
    assert!(matches!(
        isos::page(&w.services, &student).await,
        Err(Error::Forbidden)
    ));

    // The admin allows it: the teacher sees and deletes.
    let mut cluster: lab::db::entity::cluster::ActiveModel =
        clusters::find(&w.services, w.cluster_id)
            .await
            .unwrap()
            .into();
    cluster.teachers_build = Set(true);
    cluster.update(&w.services.db).await.unwrap();
    let page = isos::page(&w.services, &teacher).await.unwrap();
    assert_eq!(page.isos.len(), 9);
    isos::delete(&w.services, &teacher, w.cluster_id, volid, Some("pve1"))
        .await
        .unwrap();
    assert!(matches!(
        isos::delete(&w.services, &student, w.cluster_id, volid, Some("pve2")).await,
        Err(Error::Forbidden)
    ));
}

/// A file on disk the way the portal's upload route spools one: `(file, length)`.
async fn spooled(dir: &std::path::Path, body: &[u8]) -> (tokio::fs::File, u64) {
    let path = dir.join(format!("spool-{}", body.len()));
    tokio::fs::write(&path, body).await.unwrap();
    (
        tokio::fs::File::open(&path).await.unwrap(),
        body.len() as u64,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_streamed_to_proxmox_and_its_checksum_checked() {
    let w = sim_world(|_| {}).await;
    let admin = make_user(&w.services, "admin1", Role::Admin).await;
    full_sync(&w).await;
    let spool = tempfile::tempdir().unwrap();
    let target = format!("{}/pve1/local", w.cluster_id);
    let body: Vec<u8> = (0..5_000_000u32).map(|i| (i % 241) as u8).collect();
    let sum = sha2::Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();

    // The browser's own file name is made safe, as Proxmox would; the checksum is checked by
    // Proxmox's imgcopy task; the list has the file after the next full sync.
    let plan = isos::plan_upload(&w.services, &admin, &target, "", "Lab Tools v2.iso", &sum)
        .await
        .unwrap();
    assert_eq!(plan.filename, "Lab_Tools_v2.iso");
    let (file, len) = spooled(spool.path(), &body).await;
    let t = isos::upload(&w.services, &admin, plan, file, len)
        .await
        .unwrap();
    assert_eq!((t.node.as_str(), t.url.as_str()), ("pve1", ""));
    let done = ended(&w, t.id).await;
    assert_eq!(done.state, TransferState::Done, "{:?}", done.message);
    let dest = w.root.join("var/lib/vz/template/iso/Lab_Tools_v2.iso");
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    full_sync(&w).await;
    let page = isos::page(&w.services, &admin).await.unwrap();
    assert!(
        page.isos
            .iter()
            .any(|i| i.name == "Lab_Tools_v2.iso" && i.size == 5_000_000),
        "{:?}",
        names(&page)
    );
    // Proxmox's spool file is gone.
    let spooled_left = std::fs::read_dir(w.root.join("var-tmp"))
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    assert_eq!(spooled_left, 0);

    // A wrong checksum: the task fails with Proxmox's words and no file is made.
    let plan = isos::plan_upload(
        &w.services,
        &admin,
        &target,
        "bad.iso",
        "x.iso",
        &"1".repeat(64),
    )
    .await
    .unwrap();
    let (file, len) = spooled(spool.path(), &body[..1000]).await;
    let t = isos::upload(&w.services, &admin, plan, file, len)
        .await
        .unwrap();
    let failed = ended(&w, t.id).await;
    assert_eq!(failed.state, TransferState::Failed);
    assert!(
        failed
            .message
            .as_deref()
            .is_some_and(|m| m.contains("checksum mismatch")),
        "{:?}",
        failed.message
    );
    assert!(!w.root.join("var/lib/vz/template/iso/bad.iso").exists());

    // Refused before a byte is read, and nothing recorded: a name Proxmox would overwrite
    // (under the VMs that use it), a name that is not an ISO's, a bad checksum, a block
    // storage, a storage that is not in the list.
    let before = transfers(&w).await;
    let refusals = [
        (target.clone(), "", "Lab_Tools_v2.iso", ""),
        (target.clone(), "", "notes.txt", ""),
        (target.clone(), "", "x.iso", "abc"),
        (format!("{}/pve1/local-lvm", w.cluster_id), "", "x.iso", ""),
        ("nonsense".to_string(), "", "x.iso", ""),
    ];
    for (target, name, file_name, checksum) in refusals {
        let refused =
            isos::plan_upload(&w.services, &admin, &target, name, file_name, checksum).await;
        assert!(
            matches!(refused, Err(Error::Invalid(_) | Error::Conflict(_))),
            "{target} {file_name}: {refused:?}"
        );
    }
    assert_eq!(transfers(&w).await, before);

    // Teachers only where the cluster allows it; students never.
    let teacher = make_user(&w.services, "teacher1", Role::Teacher).await;
    let student = make_user(&w.services, "student1", Role::Student).await;
    let refused = isos::plan_upload(&w.services, &teacher, &target, "", "t.iso", "").await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
    let refused = isos::plan_upload(&w.services, &student, &target, "", "t.iso", "").await;
    assert!(matches!(refused, Err(Error::Forbidden)), "{refused:?}");
}
