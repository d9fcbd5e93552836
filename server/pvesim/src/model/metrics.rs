//! Simulated usage figures: deterministic functions of the guest, its config, its uptime and
//! the load profile, so repeated calls look alive but tests stay reproducible.
//!
//! Units follow PVE: `cpu` is a fraction of the guest's (or node's) CPUs, memory and disk in
//! bytes, `netin`/`netout`/`diskread`/`diskwrite` cumulative byte counters in status calls
//! and bytes per second in `rrddata` (RRD DERIVE values).
//!
//! The profile is the simulator's ([`crate::SimConfig::profile`]) unless a guest has its own
//! ([`LoadLog`], set with `PUT /_sim/guests/{vmid}/load`). A busy guest moves
//! [`BUSY_IO_FACTOR`] times the bytes per second of an idle one, and the counters are the
//! integral of that rate over the uptime, so a profile change bends the curve without ever
//! making a counter go back while the guest runs.

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

/// How many times the bytes per second of an idle guest a busy one moves (network and disk):
/// an idle guest moves 1.5-3.1 kB/s in, a busy one 384-794 kB/s.
pub(crate) const BUSY_IO_FACTOR: u64 = 256;

/// Multiplier of the idle byte rates under a profile.
pub(crate) fn io_weight(profile: Profile) -> u64 {
    match profile {
        Profile::Idle => 1,
        Profile::Busy => BUSY_IO_FACTOR,
    }
}

/// A guest's own load profile (`None`: the simulator's) and when it changed, on the simulated
/// clock: counters integrate the rate of the profile in force second by second, and each
/// `rrddata` sample shows the profile of its time. One entry per change, kept for the
/// guest's lifetime (changes come from test controls only, so the list stays short).
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadLog {
    /// `(since, override)` in time order; before the first entry, no override.
    changes: Vec<(u64, Option<Profile>)>,
}

impl LoadLog {
    /// The override in force now (`None`: the simulator's profile).
    pub(crate) fn current(&self) -> Option<Profile> {
        self.changes.last().and_then(|c| c.1)
    }

    /// Sets the override from `now` on. Past seconds keep their profile; a second change
    /// within the same second replaces the first.
    pub(crate) fn set(&mut self, now: u64, load: Option<Profile>) {
        if self.current() == load {
            return;
        }
        let last = self.changes.last().map_or(0, |c| c.0);
        match self.changes.last_mut() {
            Some(c) if c.0 >= now => c.1 = load,
            _ => self.changes.push((now.max(last), load)),
        }
    }

    /// The profile in force at `t`.
    pub(crate) fn at(&self, t: u64, global: Profile) -> Profile {
        let i = self.changes.partition_point(|c| c.0 <= t);
        i.checked_sub(1)
            .and_then(|i| self.changes[i].1)
            .unwrap_or(global)
    }

    /// The seconds of `from..to`, each weighted by the [`io_weight`] of its profile.
    pub(crate) fn io_secs(&self, from: u64, to: u64, global: Profile) -> u64 {
        let mut total = 0;
        let mut t = from;
        let mut profile = self.at(from, global);
        for &(since, load) in self.changes.iter().filter(|c| c.0 > from && c.0 < to) {
            total += (since - t) * io_weight(profile);
            t = since;
            profile = load.unwrap_or(global);
        }
        total + to.saturating_sub(t) * io_weight(profile)
    }
}

/// A smooth pseudo-random wave in 0..1 for a guest at a time.
pub(crate) fn wave(seed: u32, t: u64) -> f64 {
    let phase = (seed.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
    let x = t as f64 / 300.0 + phase * std::f64::consts::TAU;
    0.5 + 0.35 * x.sin() + 0.15 * (x * 3.7).cos()
}

/// Usage at `now` of a guest running since `started`, under the simulator's profile
/// `global` unless `load` overrides it.
pub(crate) fn usage(
    vmid: u32,
    kind: Kind,
    lim: Limits,
    started: u64,
    now: u64,
    global: Profile,
    load: &LoadLog,
) -> Usage {
    let uptime = now.saturating_sub(started);
    // Byte counters: the idle rate times the uptime, each second weighted by its profile.
    let io_secs = load.io_secs(started, now, global);
    let w = wave(vmid, now).clamp(0.0, 1.0);
    let (cpu, memfrac) = match load.at(now, global) {
        Profile::Idle => (0.005 + 0.03 * w, 0.3 + 0.1 * w),
        Profile::Busy => (0.55 + 0.4 * w, 0.75 + 0.2 * w),
    };
    let rate = idle_rate(vmid);
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
        netin: io_secs * rate,
        netout: io_secs * rate / 4,
        diskread: io_secs * rate * 8,
        diskwrite: io_secs * rate * 12,
    }
}

/// Inbound bytes per second of an idle guest (1500-3100).
fn idle_rate(vmid: u32) -> u64 {
    1500 + (u64::from(vmid) % 17) * 100
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_override_counters_follow_the_global_profile() {
        let log = LoadLog::default();
        assert_eq!(log.io_secs(100, 160, Profile::Idle), 60);
        assert_eq!(log.io_secs(100, 160, Profile::Busy), 60 * BUSY_IO_FACTOR);
        assert_eq!(log.at(130, Profile::Busy), Profile::Busy);
        assert_eq!(log.current(), None);
    }

    #[test]
    fn overrides_weight_each_second_by_the_profile_in_force() {
        let mut log = LoadLog::default();
        log.set(200, Some(Profile::Busy));
        log.set(260, Some(Profile::Idle));
        log.set(300, None);
        let g = Profile::Idle;
        assert_eq!(log.at(199, g), Profile::Idle);
        assert_eq!(log.at(200, g), Profile::Busy);
        assert_eq!(log.at(259, g), Profile::Busy);
        assert_eq!(log.at(260, g), Profile::Idle);
        assert_eq!(log.at(300, Profile::Busy), Profile::Busy);
        // 100 idle s before, 60 busy, 40 idle, then 10 s of the global profile.
        assert_eq!(
            log.io_secs(100, 310, g),
            100 + 60 * BUSY_IO_FACTOR + 40 + 10
        );
        assert_eq!(
            log.io_secs(100, 310, Profile::Busy),
            100 * BUSY_IO_FACTOR + 60 * BUSY_IO_FACTOR + 40 + 10 * BUSY_IO_FACTOR
        );
        // A run that started mid-way only counts from its start.
        assert_eq!(log.io_secs(230, 250, g), 20 * BUSY_IO_FACTOR);
        assert_eq!(log.io_secs(250, 240, g), 0);
    }

    #[test]
    fn counters_never_decrease_across_changes() {
        let mut log = LoadLog::default();
        let lim = Limits {
            maxcpu: 2,
            maxmem: 2 << 30,
            maxdisk: 0,
        };
        let mut last = 0;
        let plan = [
            (0, Some(Profile::Busy)),
            (50, Some(Profile::Idle)),
            (50, Some(Profile::Busy)),
            (90, None),
            (140, Some(Profile::Idle)),
        ];
        let mut plan = plan.iter().peekable();
        for now in 1000..1200 {
            while let Some((at, p)) = plan.next_if(|(at, _)| 1000 + at <= now) {
                log.set(1000 + at, *p);
            }
            let u = usage(100, Kind::Qemu, lim, 990, now, Profile::Idle, &log);
            assert!(u.netin >= last, "netin went back at {now}");
            last = u.netin;
        }
        // Setting the same override again changes nothing.
        let before = log.changes.len();
        log.set(1300, Some(Profile::Idle));
        assert_eq!(log.changes.len(), before);
    }
}
