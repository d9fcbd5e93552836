//! The VM builder against pvesim: the lists come from the sync (storages with disk content
//! per node, the nodes' bridges, the ISOs); a Linux VM gets a serial port, a Windows VM UEFI,
//! TPM and the drivers CD, both made through the API, on the dashboard of whoever built
//! them at once and started when asked; bad or mismatched choices change nothing; students
//! never build, teachers only where the cluster allows.

#[path = "support/world.rs"]
mod world;

use lab::db::entity::{assignment, cluster};
use lab::model::{Role, VmBuildForm};
use lab::{Error, builder, clusters, inventory};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use world::{SimWorld, make_user, sim_world};

async fn full_sync(w: &SimWorld) {
    let cluster = clusters::find(&w.services, w.cluster_id).await.unwrap();
    lab::sync::full::run(&w.services, &cluster, None)
        .await
        .unwrap();
}

fn form(w: &SimWorld, name: &str, os: &str) -> VmBuildForm {
    VmBuildForm {
        target: format!("{}/pve1", w.cluster_id),
        name: name.into(),
        os: os.into(),
        cores: "2".into(),
        memory_mib: "2048".into(),
        disk_gib: "16".into(),
        storage: "local-lvm".into(),
        bridge: "vmbr0".into(),
        iso: "local:iso/debian-12.7.0-amd64-netinst.iso".into(),
        drivers_iso: String::new(),
        start: String::new(),
    }
}

/// Turns on "teachers may build" for the world's cluster.
async fn allow_teachers(w: &SimWorld) {
    let mut row: cluster::ActiveModel = clusters::find(&w.services, w.cluster_id)
        .await
        .unwrap()
        .into();
    row.teachers_build = Set(true);
    row.update(&w.services.db).await.unwrap();
}

async fn config(w: &SimWorld, vmid: i32) -> serde_json::Value {
    w.pve_as_root(
        reqwest::Method::GET,
        &format!("nodes/pve1/qemu/{vmid}/config"),
        &[],
    )
    .await["data"]
        .clone()
}

async fn guests(w: &SimWorld) -> usize {
    let cluster = clusters::find(&w.services, w.cluster_id).await.unwrap();
    clusters::client(&w.services, &cluster)
        .unwrap()
        .vm_resources()
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_is_built_from_an_iso_and_is_its_builders() {
    let w = sim_world(|_| {}).await;
    full_sync(&w).await;
    let admin = make_user(&w.services, "admin1", Role::Admin).await;
    let page = builder::page(&w.services, &admin).await.unwrap();
    let pve1 = page.nodes.iter().find(|n| n.node == "pve1").unwrap();
    assert_eq!(pve1.bridges, ["vmbr0"]);
    let storages: Vec<&str> = pve1.storages.iter().map(|(s, _)| s.as_str()).collect();
    assert!(
        storages.contains(&"local-lvm") && storages.contains(&"local"),
        "{storages:?}"
    );
    assert!(
        !storages.contains(&"isos"),
        "ISO-only storage offered for disks: {storages:?}"
    );
    assert!(
        page.isos
            .iter()
            .any(|i| i.volid == "isos:iso/virtio-win-0.1.266.iso" && i.node.is_none())
    );

    // Linux, started: serial port, the ISO in the CD drive, the disk on local-lvm.
    let mut linux = form(&w, "lab-linux", "linux");
    linux.start = "on".into();
    let built = builder::build(&w.services, &admin, &linux).await.unwrap();
    assert!(built.started);
    let c = config(&w, built.vmid).await;
    assert_eq!(c["ostype"], "l26");
    assert_eq!(c["serial0"], "socket");
    assert_eq!(c["cores"], 2);
    assert_eq!(c["memory"], "2048");
    assert!(
        c["scsi0"].as_str().unwrap().starts_with("local-lvm:vm-"),
        "{c}"
    );
    assert!(c["scsi0"].as_str().unwrap().contains("size=16G"), "{c}");
    // Proxmox adds the ISO's size to the drive line.
    assert!(
        c["ide2"]
            .as_str()
            .unwrap()
            .starts_with("local:iso/debian-12.7.0-amd64-netinst.iso,media=cdrom"),
        "{c}"
    );
    assert!(c["net0"].as_str().unwrap().contains("bridge=vmbr0"), "{c}");
    assert_eq!(c["description"], "Built in Proxlab for admin1");
    // On the builder's dashboard at once, running.
    let vm = inventory::usable_vm(&w.services, &admin, w.cluster_id, built.vmid)
        .await
        .unwrap();
    assert_eq!(vm.name, "lab-linux");
    assert_eq!(vm.status, "running");

    // Windows with the drivers CD (from the shared ISO storage): UEFI and TPM on the disk's
    // storage. A teacher on a cluster that allows it.
    allow_teachers(&w).await;
    let teacher = make_user(&w.services, "teacher1", Role::Teacher).await;
    let mut win = form(&w, "lab-win", "windows");
    win.drivers_iso = "isos:iso/virtio-win-0.1.266.iso".into();
    let built = builder::build(&w.services, &teacher, &win).await.unwrap();
    assert!(!built.started);
    let c = config(&w, built.vmid).await;
    assert_eq!(c["ostype"], "win11");
    assert_eq!(c["bios"], "ovmf");
    assert_eq!(c["machine"], "q35");
    assert!(
        c["efidisk0"].as_str().unwrap().starts_with("local-lvm:vm-"),
        "{c}"
    );
    assert!(
        c["tpmstate0"]
            .as_str()
            .unwrap()
            .starts_with("local-lvm:vm-"),
        "{c}"
    );
    assert!(
        c["ide0"]
            .as_str()
            .unwrap()
            .starts_with("isos:iso/virtio-win-0.1.266.iso,media=cdrom"),
        "{c}"
    );
    assert!(c.get("serial0").is_none());
    let mine = assignment::Entity::find()
        .filter(assignment::Column::UserId.eq(teacher.id))
        .all(&w.services.db)
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].vmid, built.vmid);
    let vm = inventory::usable_vm(&w.services, &teacher, w.cluster_id, built.vmid)
        .await
        .unwrap();
    assert_eq!(vm.status, "stopped");
}

/// One change to a good form.
type Change = fn(&mut VmBuildForm);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_choices_change_nothing_and_only_allowed_people_build() {
    let w = sim_world(|_| {}).await;
    full_sync(&w).await;
    let admin = make_user(&w.services, "admin1", Role::Admin).await;
    let teacher = make_user(&w.services, "teacher1", Role::Teacher).await;
    let student = make_user(&w.services, "student1", Role::Student).await;
    let before = guests(&w).await;
    let cases: [(&str, Change); 11] = [
        ("name", |f| f.name = "bad name;rm".into()),
        ("os", |f| f.os = "beos".into()),
        ("cores", |f| f.cores = "0".into()),
        ("memory", |f| f.memory_mib = "100".into()),
        ("disk", |f| f.disk_gib = "99999".into()),
        ("node", |f| f.target = "1/pve9".into()),
        ("storage", |f| f.storage = "isos".into()),
        ("bridge", |f| f.bridge = "vmbr9".into()),
        ("iso", |f| f.iso = "local:iso/nothere.iso".into()),
        ("iso not an ISO", |f| {
            f.iso = "local-lvm:vm-100-disk-0".into()
        }),
        ("drivers on Linux", |f| {
            f.drivers_iso = "isos:iso/virtio-win-0.1.266.iso".into()
        }),
    ];
    for (why, change) in cases {
        let mut f = form(&w, "x", "linux");
        change(&mut f);
        let result = builder::build(&w.services, &admin, &f).await;
        assert!(
            matches!(result, Err(Error::Invalid(_))),
            "{why}: {result:?}"
        );
    }
    // The cluster does not let teachers build: nothing to pick, nothing made.
    let refused = builder::build(&w.services, &teacher, &form(&w, "t", "linux")).await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    assert!(
        builder::page(&w.services, &teacher)
            .await
            .unwrap()
            .nodes
            .is_empty()
    );
    assert!(matches!(
        builder::build(&w.services, &student, &form(&w, "s", "linux")).await,
        Err(Error::Forbidden)
    ));
    assert_eq!(guests(&w).await, before);
    assert!(
        assignment::Entity::find()
            .all(&w.services.db)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A built VM's hardware: its builder changes cores and memory, grows the disk, swaps the CD
/// and makes it a template (stopped only); nobody else may, and the card says who may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builder_changes_the_hardware_and_makes_a_template() {
    use lab::builder::hardware;
    use lab::model::VmFilter;
    let w = sim_world(|_| {}).await;
    full_sync(&w).await;
    allow_teachers(&w).await;
    let teacher = make_user(&w.services, "teacher1", Role::Teacher).await;
    let other = make_user(&w.services, "teacher2", Role::Teacher).await;
    let student = make_user(&w.services, "student1", Role::Student).await;
    let built = builder::build(&w.services, &teacher, &form(&w, "base-vm", "linux"))
        .await
        .unwrap();
    let (c, v) = (w.cluster_id, built.vmid);
    // Known at once, before any full sync.
    let h = hardware::view(&w.services, &teacher, c, v).await.unwrap();
    assert_eq!(
        h.cdrom.as_deref(),
        Some("local:iso/debian-12.7.0-amd64-netinst.iso")
    );
    full_sync(&w).await;
    let h = hardware::view(&w.services, &teacher, c, v).await.unwrap();
    assert_eq!((h.cores, h.memory_mib, h.disk_gib), (2, 2048, 16));
    assert_eq!(
        h.cdrom.as_deref(),
        Some("local:iso/debian-12.7.0-amd64-netinst.iso")
    );
    assert!(
        h.isos
            .iter()
            .any(|(v, _)| v == "isos:iso/virtio-win-0.1.266.iso")
    );
    let dash = inventory::dashboard(&w.services, &teacher, &VmFilter::default(), None)
        .await
        .unwrap()
        .unwrap();
    assert!(
        dash.cards
            .iter()
            .any(|card| card.vmid == v && card.hardware)
    );

    hardware::set_size(&w.services, &teacher, c, v, "4", "4096")
        .await
        .unwrap();
    hardware::grow_disk(&w.services, &teacher, c, v, "8")
        .await
        .unwrap();
    hardware::set_cd(&w.services, &teacher, c, v, None)
        .await
        .unwrap();
    let conf = config(&w, v).await;
    assert_eq!(conf["cores"], 4);
    assert_eq!(conf["memory"], "4096");
    assert!(
        conf["scsi0"].as_str().unwrap().contains("size=24G"),
        "{conf}"
    );
    assert_eq!(conf["ide2"], "none,media=cdrom");
    let cluster = clusters::find(&w.services, c).await.unwrap();
    lab::sync::quick::run(&w.services, &cluster).await.unwrap();
    full_sync(&w).await;
    let h = hardware::view(&w.services, &teacher, c, v).await.unwrap();
    assert_eq!(
        (h.cores, h.memory_mib, h.disk_gib, h.cdrom),
        (4, 4096, 24, None)
    );
    hardware::set_cd(
        &w.services,
        &teacher,
        c,
        v,
        Some("isos:iso/virtio-win-0.1.266.iso"),
    )
    .await
    .unwrap();
    assert!(
        config(&w, v).await["ide2"]
            .as_str()
            .unwrap()
            .starts_with("isos:iso/virtio-win-0.1.266.iso,media=cdrom")
    );

    // Network cards: the build's own, one more (Proxmox gives it a MAC), its model changed
    // (the MAC stays), then removed; the page knows each change at once.
    let h = hardware::view(&w.services, &teacher, c, v).await.unwrap();
    assert_eq!(h.bridges, ["vmbr0"]);
    assert_eq!(
        h.nics,
        [lab::model::Nic {
            key: "net0".into(),
            model: "virtio".into(),
            bridge: "vmbr0".into()
        }]
    );
    hardware::set_nic(&w.services, &teacher, c, v, "", "virtio", "vmbr0")
        .await
        .unwrap();
    let mac_of = |value: &str| {
        value
            .split(',')
            .next()
            .unwrap()
            .split('=')
            .nth(1)
            .map(str::to_owned)
    };
    let net1 = config(&w, v).await["net1"].as_str().unwrap().to_owned();
    let mac = mac_of(&net1).expect("Proxmox gave the new card a MAC");
    hardware::set_nic(&w.services, &teacher, c, v, "net1", "e1000", "vmbr0")
        .await
        .unwrap();
    let net1 = config(&w, v).await["net1"].as_str().unwrap().to_owned();
    assert_eq!(net1, format!("e1000={mac},bridge=vmbr0"));
    let keys: Vec<String> = hardware::view(&w.services, &teacher, c, v)
        .await
        .unwrap()
        .nics
        .iter()
        .map(|n| format!("{}:{}", n.key, n.model))
        .collect();
    assert_eq!(keys, ["net0:virtio", "net1:e1000"]);
    hardware::remove_nic(&w.services, &teacher, c, v, "net1")
        .await
        .unwrap();
    assert!(config(&w, v).await.get("net1").is_none());
    assert_eq!(
        hardware::view(&w.services, &teacher, c, v)
            .await
            .unwrap()
            .nics
            .len(),
        1
    );
    for bad in [
        hardware::set_nic(&w.services, &teacher, c, v, "", "virtio", "vmbr9").await,
        hardware::set_nic(&w.services, &teacher, c, v, "", "rtl9999", "vmbr0").await,
    ] {
        assert!(matches!(bad, Err(Error::Invalid(_))), "{bad:?}");
    }
    assert!(matches!(
        hardware::remove_nic(&w.services, &teacher, c, v, "net5").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        hardware::remove_nic(&w.services, &other, c, v, "net0").await,
        Err(Error::NotFound(_))
    ));
    assert!(config(&w, v).await.get("net0").is_some());

    // Bad input and the wrong people change nothing.
    for bad in [
        hardware::set_size(&w.services, &teacher, c, v, "0", "4096").await,
        hardware::grow_disk(&w.services, &teacher, c, v, "-5").await,
        hardware::set_cd(&w.services, &teacher, c, v, Some("local:iso/nothere.iso")).await,
    ] {
        assert!(matches!(bad, Err(Error::Invalid(_))), "{bad:?}");
    }
    assert!(matches!(
        hardware::set_size(&w.services, &other, c, v, "8", "8192").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        hardware::view(&w.services, &student, c, v).await,
        Err(Error::Forbidden | Error::NotFound(_))
    ));
    assert_eq!(config(&w, v).await["cores"], 4);

    // A running VM does not become a template; a stopped one does, and leaves the page.
    let mut running = form(&w, "running-vm", "linux");
    running.start = "on".into();
    let up = builder::build(&w.services, &teacher, &running)
        .await
        .unwrap();
    assert!(matches!(
        hardware::make_template(&w.services, &teacher, c, up.vmid).await,
        Err(Error::Conflict(_))
    ));
    hardware::make_template(&w.services, &teacher, c, v)
        .await
        .unwrap();
    assert_eq!(config(&w, v).await["template"], 1);
    assert!(matches!(
        hardware::view(&w.services, &teacher, c, v).await,
        Err(Error::NotFound(_))
    ));

    // Next term: a full copy of the template, the teacher's to change.
    let source = format!("{c}/{v}");
    let copy = builder::copy_template(&w.services, &teacher, &source, "base-v2")
        .await
        .unwrap();
    let conf = config(&w, copy.vmid).await;
    assert_eq!(conf["name"], "base-v2");
    assert!(conf.get("template").is_none(), "{conf}");
    assert_eq!(conf["cores"], 4);
    let disk = conf["scsi0"].as_str().unwrap();
    assert!(!disk.contains("base-"), "a full copy, not linked: {disk}");
    let h = hardware::view(&w.services, &teacher, c, copy.vmid)
        .await
        .unwrap();
    assert_eq!(h.name, "base-v2");
    for (who, template, name) in [
        (&teacher, format!("{c}/99999"), "x"),
        (&teacher, source.clone(), "bad name"),
    ] {
        let refused = builder::copy_template(&w.services, who, &template, name).await;
        assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    }
    assert!(matches!(
        builder::copy_template(&w.services, &student, &source, "s").await,
        Err(Error::Forbidden)
    ));
}
