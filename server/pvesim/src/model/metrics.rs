//! Simulated usage figures: deterministic functions of the guest, its config, its uptime and
//! the load profile, so repeated calls look alive but tests stay reproducible.
//!
//! Units follow PVE: `cpu` is a fraction of the guest's (or node's) CPUs, memory and disk in
//! bytes, `netin`/`netout`/`diskread`/`diskwrite` cumulative byte counters in status calls
//! and bytes per second in `rrddata` (RRD DERIVE values).

use super::conf::{Conf, parse_size, property_string};
use super::store::Kind;
use crate::config::Profile;

/// Config-derived maxima of a guest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub maxcpu: u32,
    pub maxmem: u64,
    pub maxdisk: u64,
}

/// Live usage of a running guest (all zero when stopped).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    pub uptime: u64,
    pub cpu: f64,
    pub mem: u64,
    pub memhost: u64,
    pub disk: u64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
}

pub(crate) fn limits(kind: Kind, conf: &Conf) -> Limits {
    let int = |k: &str| conf.get(k).and_then(|v| v.parse::<u64>().ok());
    let cores = int("cores").unwrap_or(1);
    let maxcpu = match kind {
        Kind::Qemu => int("vcpus").unwrap_or(cores * int("sockets").unwrap_or(1)),
        Kind::Lxc => cores,
    } as u32;
    // `memory` is a property string since PVE 8 (`4096` or `current=4096`), in MiB.
    let memory = conf
        .get("memory")
        .and_then(|v| {
            let (first, pairs) = property_string(v);
            first.or_else(|| pairs.iter().find(|(k, _)| *k == "current").map(|(_, v)| *v))
        })
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(512);
    let maxdisk = match kind {
        Kind::Lxc => conf.get("rootfs").and_then(disk_size).unwrap_or(0),
        Kind::Qemu => ["scsi0", "virtio0", "sata0", "ide0"]
            .iter()
            .filter_map(|k| conf.get(k))
            .filter(|v| !v.contains("media=cdrom"))
            .find_map(disk_size)
            .unwrap_or(0),
    };
    Limits {
        maxcpu: maxcpu.max(1),
        maxmem: memory << 20,
        maxdisk,
    }
}

/// `size=` of a drive property string.
pub(crate) fn disk_size(value: &str) -> Option<u64> {
    property_string(value)
        .1
        .iter()
        .find(|(k, _)| *k == "size")
        .and_then(|(_, v)| parse_size(v))
}

/// A smooth pseudo-random wave in 0..1 for a guest at a time.
pub(crate) fn wave(seed: u32, t: u64) -> f64 {
    let phase = (seed.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
    let x = t as f64 / 300.0 + phase * std::f64::consts::TAU;
    0.5 + 0.35 * x.sin() + 0.15 * (x * 3.7).cos()
}

pub(crate) fn usage(
    vmid: u32,
    kind: Kind,
    lim: Limits,
    uptime: u64,
    now: u64,
    profile: Profile,
) -> Usage {
    let w = wave(vmid, now).clamp(0.0, 1.0);
    let (cpu, memfrac) = match profile {
        Profile::Idle => (0.005 + 0.03 * w, 0.3 + 0.1 * w),
        Profile::Busy => (0.55 + 0.4 * w, 0.75 + 0.2 * w),
    };
    let rate = 1500 + (vmid as u64 % 17) * 100;
    let mem = (lim.maxmem as f64 * memfrac) as u64;
    Usage {
        uptime,
        cpu: (cpu * 10_000.0).round() / 10_000.0,
        mem,
        memhost: mem + mem / 3,
        disk: match kind {
            Kind::Lxc => lim.maxdisk / 7,
            // QEMU cannot see inside the guest: PVE reports disk 0 for VMs.
            Kind::Qemu => 0,
        },
        netin: uptime * rate,
        netout: uptime * rate / 4,
        diskread: uptime * rate * 8,
        diskwrite: uptime * rate * 12,
    }
}

/// Node usage at a time.
pub(crate) fn node_cpu(nodeid: u32, now: u64, profile: Profile) -> f64 {
    let w = wave(nodeid * 97, now);
    let v = match profile {
        Profile::Idle => 0.03 + 0.04 * w,
        Profile::Busy => 0.5 + 0.3 * w,
    };
    (v * 10_000.0).round() / 10_000.0
}
