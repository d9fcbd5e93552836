//! The cluster of `proxmox-fixtures.json`: `web-01` (100, running, snapshots `initial` →
//! `pre-upgrade`, agent), `db-01` (101, stopped), `student-02` (102 on pve2, HA, agent not
//! answering, serial console), 103 mid-clone (temporary config + linked disk), CT 200
//! `ct-dns`, `archive-01` (301) on the offline `pve3`, and template 9000 `debian12-tpl`.

use super::super::conf::{Conf, Section};
use super::super::store::Kind;
use super::super::{Inner, blocks, disks};
use super::{make_disk, put, set_running, vm_section};
use crate::config::SimConfig;

pub(super) fn fixture_guests(cfg: &SimConfig, inner: &mut Inner, now: u64) -> std::io::Result<()> {
    let v100 = make_disk(cfg, inner, "local", 100, 32 << 30, false)?;
    let mut web = vm_section("web-01", 2, 4096, &format!("{v100},iothread=1,size=32G"));
    web.insert("agent".into(), "1".into());
    web.insert(
        "ide2".into(),
        "local:iso/debian-12.7.0-amd64-netinst.iso,media=cdrom,size=631M".into(),
    );
    web.insert("tags".into(), "lab;web".into());
    web.insert("onboot".into(), "1".into());
    web.insert(
        "description".into(),
        "Web server for lab A\nmanaged by portal".into(),
    );
    web.insert("parent".into(), "pre-upgrade".into());
    let mut initial = web.clone();
    initial.remove("parent");
    initial.insert("snaptime".into(), "1794136000".into());
    initial.insert(
        "vmstate".into(),
        "local:100/vm-100-state-initial.raw".into(),
    );
    initial.insert("description".into(), String::new());
    initial.remove("description");
    let mut pre = web.clone();
    pre.insert("parent".into(), "initial".into());
    pre.insert("snaptime".into(), "1794913600".into());
    pre.insert("description".into(), "before apt full-upgrade".into());
    let mut conf = Conf {
        main: web,
        ..Conf::default()
    };
    conf.snapshots.insert("initial".into(), initial);
    conf.snapshots.insert("pre-upgrade".into(), pre);
    inner.store.write(100, "pve1", Kind::Qemu, &conf)?;
    set_running(inner, 100, now, 86_522);

    let v101 = make_disk(cfg, inner, "local", 101, 64 << 30, false)?;
    let mut db = vm_section("db-01", 4, 8192, &format!("{v101},iothread=1,size=64G"));
    db.insert("agent".into(), "1".into());
    put(inner, 101, "pve1", Kind::Qemu, db)?;

    let v102 = make_disk(cfg, inner, "local", 102, 10 << 30, false)?;
    let mut s102 = vm_section(
        "student-02",
        2,
        2048,
        &format!("{v102},iothread=1,size=10G"),
    );
    s102.insert("agent".into(), "1".into());
    s102.insert("serial0".into(), "socket".into());
    s102.insert("tags".into(), "lab;student".into());
    put(inner, 102, "pve2", Kind::Qemu, s102)?;
    set_running(inner, 102, now, 3_311);
    inner.rt(102).agent = super::super::AgentMode::Absent;
    inner.ha.insert(102, "started".into());

    // VM 103 is mid-clone: PVE first writes this temporary config.
    std::fs::write(
        inner.store.path("pve1", Kind::Qemu, 103),
        "# qmclone temporary file\nlock: clone\n",
    )?;

    let mut ct = Section::new();
    for (k, v) in [
        ("arch", "amd64"),
        ("cores", "1"),
        ("features", "nesting=1"),
        ("hostname", "ct-dns"),
        ("memory", "512"),
        (
            "net0",
            "name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:A4:19:E7,ip=dhcp,type=veth",
        ),
        ("ostype", "debian"),
        ("rootfs", "local-lvm:vm-200-disk-0,size=8G"),
        ("swap", "512"),
        ("tags", "infra"),
        ("unprivileged", "1"),
        ("onboot", "1"),
    ] {
        ct.insert(k.into(), v.into());
    }
    put(inner, 200, "pve2", Kind::Lxc, ct)?;
    set_running(inner, 200, now, 512_004);

    put(
        inner,
        301,
        "pve3",
        Kind::Qemu,
        vm_section("archive-01", 2, 2048, "local-lvm:vm-301-disk-0,size=20G"),
    )?;

    let base = make_disk(cfg, inner, &cfg.template_storage, 9000, 10 << 30, true)?;
    let mut tpl = vm_section(
        "debian12-tpl",
        2,
        2048,
        &format!("{base},iothread=1,size=10G"),
    );
    tpl.insert("template".into(), "1".into());
    tpl.insert("tags".into(), "template".into());
    put(inner, 9000, "pve1", Kind::Qemu, tpl)?;
    // The half-done clone 103 already has its linked disk.
    // (Only on a file storage: a block storage's volumes are registered after seeding.)
    if let Some(local) = inner
        .storage(&cfg.template_storage)
        .filter(|s| !blocks::is_block(s))
        .cloned()
    {
        let (_, base_volname) = disks::split_volid(&base).unwrap_or(("", ""));
        disks::link(
            &cfg.root,
            &local,
            &mut inner.blocks,
            "pve1",
            base_volname,
            103,
            0,
        )?;
    }
    Ok(())
}
