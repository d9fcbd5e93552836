//! The generated cluster for `--vms`/`--templates`/`--containers`: templates from 9000 on
//! `pve1` with base disks on `template_storage`, guests from 100 spread round-robin
//! over the nodes (every other one running), containers from 5000.

use super::super::conf::Section;
use super::super::store::Kind;
use super::super::{Inner, mac};
use super::{make_disk, put, set_running, vm_section};
use crate::config::SimConfig;

const TEMPLATE_NAMES: &[&str] = &[
    "debian12-tpl",
    "ubuntu2404-tpl",
    "win11-tpl",
    "alpine-tpl",
    "rocky9-tpl",
    "win2022-tpl",
];

pub(super) fn generated_guests(
    cfg: &SimConfig,
    inner: &mut Inner,
    now: u64,
) -> std::io::Result<()> {
    let nodes: Vec<String> = inner.nodes.iter().map(|n| n.name.clone()).collect();
    for i in 0..cfg.templates as u32 {
        let vmid = 9000 + i;
        let base = make_disk(cfg, inner, &cfg.template_storage, vmid, 10 << 30, true)?;
        let name = TEMPLATE_NAMES
            .get(i as usize)
            .map_or_else(|| format!("template-{vmid}"), |n| (*n).to_string());
        let mut s = vm_section(&name, 2, 2048, &format!("{base},iothread=1,size=10G"));
        s.insert("template".into(), "1".into());
        s.insert("tags".into(), "template".into());
        s.insert("agent".into(), "1".into());
        put(inner, vmid, &nodes[0], Kind::Qemu, s)?;
    }
    // Guest VMIDs skip the template (9000..) and container (5000..) ranges.
    let reserved = |v: u32| {
        (9000..9000 + cfg.templates as u32).contains(&v)
            || (5000..5000 + cfg.containers as u32).contains(&v)
    };
    let mut ids = (100u32..).filter(|v| !reserved(*v));
    for i in 0..cfg.vms as u32 {
        let vmid = ids.next().unwrap_or(100 + i);
        let node = &nodes[i as usize % nodes.len()];
        let disk = make_disk(cfg, inner, "local", vmid, 32 << 30, false)?;
        let mut s = vm_section(
            &format!("lab-{vmid}"),
            2,
            2048,
            &format!("{disk},iothread=1,size=32G"),
        );
        s.insert("agent".into(), "1".into());
        s.insert("tags".into(), "lab".into());
        put(inner, vmid, node, Kind::Qemu, s)?;
        if i % 2 == 0 {
            set_running(inner, vmid, now, 3_600 + u64::from(i) * 13);
        }
    }
    for i in 0..cfg.containers as u32 {
        let vmid = 5000 + i;
        let node = &nodes[i as usize % nodes.len()];
        let mut ct = Section::new();
        ct.insert("arch".into(), "amd64".into());
        ct.insert("cores".into(), "1".into());
        ct.insert("hostname".into(), format!("ct-{vmid}"));
        ct.insert("memory".into(), "512".into());
        ct.insert("swap".into(), "512".into());
        ct.insert(
            "net0".into(),
            format!(
                "name=eth0,bridge=vmbr0,firewall=1,hwaddr={},ip=dhcp,type=veth",
                mac()
            ),
        );
        ct.insert("ostype".into(), "debian".into());
        ct.insert(
            "rootfs".into(),
            format!("local-lvm:vm-{vmid}-disk-0,size=8G"),
        );
        ct.insert("unprivileged".into(), "1".into());
        put(inner, vmid, node, Kind::Lxc, ct)?;
        set_running(inner, vmid, now, 7_200);
    }
    Ok(())
}
