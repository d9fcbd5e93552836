//! Building the initial cluster: nodes, storages, users and guests written as config files.
//!
//! Two worlds: the *fixture world* reproduces the cluster behind `proxmox-fixtures.json`
//! (VMs 100-103 and 301, template 9000, CT 200, pools `lab-a`/`templates`, `pve3` offline),
//! and the *generated world* scales to `--vms`/`--templates`/`--containers`. Guests are only
//! written when the root holds no config yet, so restarting on the same root keeps the
//! cluster as the files describe it (the runtime state starts stopped, as after a reboot).

mod fixture_world;
mod generated;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::conf::{Conf, Section};
use super::roles::{PrivSet, builtin};
use super::store::{Kind, Store};
use super::tasks::Tasks;
use super::{
    Acl, AclKind, Group, Inner, Node, NodeState, Pool, Power, Storage, Token, User, mac, uuid,
};
use super::{blocks, disks};
use crate::config::{ExtraStorage, SeedDisks, SimConfig};

/// Everything the seed produced that is not in [`Inner`].
pub(crate) struct Secrets {
    pub root_password: String,
    pub user_password: String,
    pub token_secret: String,
}

pub(crate) fn build(
    cfg: &SimConfig,
    now: u64,
    local_fingerprint: &str,
) -> std::io::Result<(Inner, Secrets)> {
    let secrets = Secrets {
        root_password: cfg.root_password.clone().unwrap_or_else(password),
        user_password: cfg.user_password.clone().unwrap_or_else(password),
        token_secret: cfg.token_secret.clone().unwrap_or_else(uuid),
    };
    let node_count = if cfg.fixture_world {
        cfg.nodes.max(3)
    } else {
        cfg.nodes
    };
    let nodes: Vec<Node> = (1..=node_count as u32)
        .map(|i| Node {
            name: format!("pve{i}"),
            nodeid: i,
            state: if cfg.fixture_world && i == 3 {
                NodeState::Offline
            } else {
                NodeState::Online
            },
            maxcpu: if cfg.fixture_world && i == 3 { 8 } else { 16 },
            maxmem: if cfg.fixture_world && i == 3 {
                33_551_958_016
            } else {
                67_301_625_856
            },
            maxdisk: 100_861_726_720,
            boot: now.saturating_sub(1_209_731 - u64::from(i - 1) * 211_518),
            fingerprint: if i == 1 {
                local_fingerprint.to_string()
            } else {
                fake_fingerprint(i)
            },
        })
        .collect();
    let storages = storages(&cfg.extra_storages);
    prepare_storages(&cfg.root, &storages)?;
    let mut inner = Inner {
        nodes,
        storages,
        users: users(&secrets),
        groups: groups(),
        pools: BTreeMap::new(),
        acl: acl(),
        roles: roles(cfg),
        store: Store::new(
            &cfg.root,
            (1..=node_count).map(|i| format!("pve{i}")).collect(),
        )?,
        blocks: Default::default(),
        runtime: HashMap::new(),
        tasks: Tasks::default(),
        consoles: Vec::new(),
        execs: HashMap::new(),
        typed: HashMap::new(),
        ha: BTreeMap::new(),
        next_pid: 1_843_210,
    };
    inner.store.refresh();
    let fresh = inner.store.len() == 0;
    if fresh {
        if cfg.fixture_world {
            fixture_world::fixture_guests(cfg, &mut inner, now)?;
        } else {
            generated::generated_guests(cfg, &mut inner, now)?;
        }
    }
    inner.refresh();
    inner.adopt_volumes();
    if cfg.fixture_world {
        inner.pools.insert(
            "lab-a".into(),
            Pool {
                comment: Some("Lab A".into()),
                vms: vec![100, 101],
                storages: vec!["local".into()],
            },
        );
        inner.pools.insert(
            "templates".into(),
            Pool {
                comment: None,
                vms: vec![9000],
                storages: vec![],
            },
        );
    } else {
        let templates: Vec<u32> = (0..cfg.templates as u32).map(|i| 9000 + i).collect();
        inner.pools.insert(
            "templates".into(),
            Pool {
                comment: Some("Course templates".into()),
                vms: templates,
                storages: vec![],
            },
        );
        let lab: Vec<u32> = (0..cfg.vms.min(10) as u32).map(|i| 100 + i).collect();
        inner.pools.insert(
            "lab-a".into(),
            Pool {
                comment: Some("Lab A".into()),
                vms: lab,
                storages: vec!["local".into()],
            },
        );
    }
    for pool in inner.pools.values_mut() {
        let store = &inner.store;
        pool.vms.retain(|v| store.contains(*v));
    }
    Ok((inner, secrets))
}

/// A stock node's `local` and `local-lvm`, then the extra storages asked for (sizes of a
/// small school server: 100 GB root disk, 1.7 TiB thin pool).
fn storages(extra: &[ExtraStorage]) -> Vec<Storage> {
    let mut out = vec![
        Storage {
            id: "local".into(),
            plugintype: "dir",
            content: "iso,vztmpl,backup,images,snippets",
            shared: false,
            path: Some("var/lib/vz"),
            total: 100_861_726_720,
        },
        Storage {
            id: "local-lvm".into(),
            plugintype: "lvmthin",
            content: "rootdir,images",
            shared: false,
            path: None,
            total: 1_850_260_455_424,
        },
    ];
    for e in extra {
        match e {
            ExtraStorage::LocalZfs => out.push(Storage {
                id: "local-zfs".into(),
                plugintype: "zfspool",
                content: "images,rootdir",
                shared: false,
                path: None,
                total: 1_759_218_604_441,
            }),
            ExtraStorage::Ceph => out.push(Storage {
                id: "ceph".into(),
                plugintype: "rbd",
                content: "images,rootdir",
                shared: true,
                path: None,
                total: 10_995_116_277_760,
            }),
            ExtraStorage::Lvm => out.push(Storage {
                id: "vmdata".into(),
                plugintype: "lvm",
                content: "images,rootdir",
                shared: false,
                path: None,
                total: 999_653_638_144,
            }),
            ExtraStorage::Nfs => {
                out.push(Storage {
                    id: "shared".into(),
                    plugintype: "nfs",
                    content: "images,rootdir,backup",
                    shared: true,
                    path: Some("mnt/pve/shared"),
                    total: 4_398_046_511_104,
                });
                out.push(Storage {
                    id: "isos".into(),
                    plugintype: "nfs",
                    content: "iso,vztmpl",
                    shared: true,
                    path: Some("mnt/pve/isos"),
                    total: 1_099_511_627_776,
                });
            }
        }
    }
    out
}

fn prepare_storages(root: &Path, storages: &[Storage]) -> std::io::Result<()> {
    for s in storages {
        let Some(path) = s.path else { continue };
        let base = root.join(path);
        for sub in [
            "images",
            "template/iso",
            "template/cache",
            "dump",
            "snippets",
        ] {
            std::fs::create_dir_all(base.join(sub))?;
        }
        if s.content.contains("iso") {
            let isos: &[(&str, u64)] = &[
                ("debian-12.7.0-amd64-netinst.iso", 661_651_456),
                ("ubuntu-24.04.1-live-server-amd64.iso", 2_773_874_688),
                ("virtio-win-0.1.266.iso", 728_322_048),
            ];
            for (name, size) in isos {
                let p = base.join("template/iso").join(name);
                if !p.exists() {
                    // Sparse: the size is real, the blocks are not.
                    std::fs::File::create(&p)?.set_len(*size)?;
                }
            }
            let ct = base.join("template/cache/debian-12-standard_12.7-1_amd64.tar.zst");
            if !ct.exists() {
                std::fs::File::create(&ct)?.set_len(126_834_176)?;
            }
        }
    }
    Ok(())
}

fn users(s: &Secrets) -> BTreeMap<String, User> {
    let mut users = BTreeMap::new();
    let mut root = User {
        password: s.root_password.clone(),
        enable: true,
        email: Some("admin@lab.example".into()),
        ..User::default()
    };
    root.tokens.insert(
        "pvesim".into(),
        Token {
            secret: s.token_secret.clone(),
            privsep: false,
            comment: Some("seeded by pvesim".into()),
        },
    );
    users.insert("root@pam".into(), root);
    let pve = |first: Option<&str>, last: Option<&str>, comment: Option<&str>| User {
        password: s.user_password.clone(),
        enable: true,
        firstname: first.map(Into::into),
        lastname: last.map(Into::into),
        comment: comment.map(Into::into),
        ..User::default()
    };
    users.insert(
        "student1@pve".into(),
        pve(Some("Ada"), Some("Lovelace"), Some("Lab group A")),
    );
    users.insert(
        "student2@pve".into(),
        pve(Some("Alan"), Some("Turing"), None),
    );
    users.insert(
        "teacher1@pve".into(),
        pve(Some("Grace"), Some("Hopper"), None),
    );
    users.insert(
        "portal@pve".into(),
        pve(None, None, Some("lab portal service user")),
    );
    users
}

fn groups() -> BTreeMap<String, Group> {
    let mut g = BTreeMap::new();
    g.insert(
        "students".into(),
        Group {
            comment: Some("Course 2026".into()),
            users: vec!["student1@pve".into(), "student2@pve".into()],
        },
    );
    g.insert(
        "teachers".into(),
        Group {
            comment: None,
            users: vec!["teacher1@pve".into()],
        },
    );
    g.insert(
        "admin".into(),
        Group {
            comment: Some("Administrators (all privileges)".into()),
            users: vec!["portal@pve".into()],
        },
    );
    g
}

/// The custom role of students and teachers (see [`acl`]).
const LAB_USER_ROLE: &str = "LabUser";

/// PVE's generated roles plus [`LAB_USER_ROLE`]: see, open the console of and power guests.
fn roles(cfg: &SimConfig) -> BTreeMap<String, PrivSet> {
    let mut roles = builtin(cfg.version);
    roles.insert(
        LAB_USER_ROLE.into(),
        ["VM.Audit", "VM.Console", "VM.PowerMgmt"]
            .iter()
            .map(|p| (*p).to_string())
            .collect(),
    );
    roles
}

/// Group `admin` holds `Administrator` on `/`; groups `students` and `teachers` hold
/// [`LAB_USER_ROLE`] on `/vms`, which gives `student1@pve` exactly the ticket `cap` the
/// fixture cluster answered (`vms`: `VM.Audit`, `VM.Console`, `VM.PowerMgmt`; nothing else).
fn acl() -> Vec<Acl> {
    let entry = |path: &str, group: &str, role: &str| Acl {
        path: path.into(),
        kind: AclKind::Group,
        ugid: group.into(),
        role: role.into(),
        propagate: true,
    };
    vec![
        entry("/", "admin", "Administrator"),
        entry("/vms", "students", LAB_USER_ROLE),
        entry("/vms", "teachers", LAB_USER_ROLE),
    ]
}

/// A typical config as PVE's create would leave it.
fn vm_section(name: &str, cores: u32, memory: u32, disk: &str) -> Section {
    let mut s = Section::new();
    for (k, v) in [
        ("boot", "order=scsi0;ide2;net0".to_string()),
        ("cores", cores.to_string()),
        ("cpu", "x86-64-v2-AES".into()),
        ("ide2", "none,media=cdrom".into()),
        ("memory", memory.to_string()),
        ("meta", "creation-qemu=10.0.2,ctime=1790000000".into()),
        ("name", name.into()),
        ("net0", format!("virtio={},bridge=vmbr0,firewall=1", mac())),
        ("numa", "0".into()),
        ("ostype", "l26".into()),
        ("scsi0", disk.into()),
        ("scsihw", "virtio-scsi-single".into()),
        ("smbios1", format!("uuid={}", uuid())),
        ("sockets", "1".into()),
        ("vmgenid", uuid()),
    ] {
        s.insert(k.into(), v);
    }
    s
}

fn put(inner: &mut Inner, vmid: u32, node: &str, kind: Kind, main: Section) -> std::io::Result<()> {
    let conf = Conf {
        main,
        ..Conf::default()
    };
    inner.store.write(vmid, node, kind, &conf)
}

fn set_running(inner: &mut Inner, vmid: u32, now: u64, uptime: u64) {
    let rt = inner.rt(vmid);
    rt.power = Power::Running;
    rt.started = now.saturating_sub(uptime);
    rt.since =
        std::time::Instant::now().checked_sub(std::time::Duration::from_secs(uptime.min(3600)));
}

fn make_disk(
    cfg: &SimConfig,
    inner: &mut Inner,
    storage: &str,
    vmid: u32,
    size: u64,
    template: bool,
) -> std::io::Result<String> {
    let st = inner
        .storage(storage)
        .cloned()
        .ok_or_else(|| std::io::Error::other(format!("storage '{storage}' does not exist")))?;
    if blocks::is_block(&st) {
        // Registered with every other volume the configs name (`Inner::adopt_volumes`).
        let prefix = if template { "base" } else { "vm" };
        return Ok(format!("{storage}:{prefix}-{vmid}-disk-0"));
    }
    let real = template || cfg.seed_disks == SeedDisks::All;
    let volid = if real {
        disks::alloc(
            &cfg.root,
            &st,
            &mut inner.blocks,
            "",
            vmid,
            0,
            "qcow2",
            size,
        )?
    } else {
        format!("{storage}:{vmid}/vm-{vmid}-disk-0.qcow2")
    };
    if template {
        let (_, volname) = disks::split_volid(&volid).unwrap_or(("", ""));
        return disks::to_base(&cfg.root, &st, &mut inner.blocks, "", volname);
    }
    Ok(volid)
}

/// 16 random characters from an alphabet without look-alikes.
pub(crate) fn password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    super::random_bytes::<16>()
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn fake_fingerprint(i: u32) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("pvesim-node-{i}"));
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
