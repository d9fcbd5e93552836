//! A leaf below `Services`, the quick sync and the policies: the latest CPU and network
//! figures of running guests, kept in memory from what the quick
//! sync already receives (`/cluster/resources` has `cpu`, `netin`, `netout`): the idle policy
//! adds no Proxmox call. Network figures are cumulative byte counters, so a rate needs two
//! samples; the peaks since the policy tick last looked are kept, so a burst between two ticks
//! still counts as activity.
//!
//! In memory, not in the database: the samples change at every quick sync for every running
//! VM, and writing them would turn each sync into a write of the whole inventory. Every
//! instance syncs every cluster, so whichever instance holds a cluster's policy lease has
//! them. After a restart the first rate comes one sync later, and until then a VM is neither
//! busy nor idle (its idle clock does not move).

use crate::pve::GuestResource;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One guest's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Sample {
    at: i64,
    netin: u64,
    netout: u64,
    /// Highest CPU fraction seen since the last `take`.
    peak_cpu: f64,
    /// Highest network rate (in + out, bytes/s) since the last `take`; `None` before the
    /// second sample of this boot.
    peak_rate: Option<f64>,
}

/// What the policy tick reads for one guest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Load {
    pub cpu: f64,
    pub bytes_per_sec: f64,
}

#[derive(Clone, Default)]
pub struct Activity {
    inner: Arc<Mutex<HashMap<(i32, u32), Sample>>>,
}

impl Activity {
    /// Records a quick sync's answer for a cluster (running guests only; the others are
    /// forgotten).
    pub fn record(&self, cluster_id: i32, at: i64, guests: &[GuestResource]) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|(c, vmid), _| {
            *c != cluster_id
                || guests
                    .iter()
                    .any(|g| g.vmid == *vmid && g.status == "running")
        });
        for g in guests.iter().filter(|g| g.status == "running") {
            let key = (cluster_id, g.vmid);
            let next = match map.get(&key) {
                // Counters that went back: a new boot (or a migration); start again.
                Some(old) if at > old.at && g.netin >= old.netin && g.netout >= old.netout => {
                    let rate =
                        (g.netin - old.netin + g.netout - old.netout) as f64 / (at - old.at) as f64;
                    Sample {
                        at,
                        netin: g.netin,
                        netout: g.netout,
                        peak_cpu: old.peak_cpu.max(g.cpu),
                        peak_rate: Some(old.peak_rate.map_or(rate, |p| p.max(rate))),
                    }
                }
                Some(old) if at <= old.at => *old,
                _ => Sample {
                    at,
                    netin: g.netin,
                    netout: g.netout,
                    peak_cpu: g.cpu,
                    peak_rate: None,
                },
            };
            map.insert(key, next);
        }
    }

    /// The peaks since the last call for each running guest of a cluster that has a rate,
    /// and starts new peaks.
    pub fn take(&self, cluster_id: i32) -> HashMap<u32, Load> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut loads = HashMap::new();
        for ((c, vmid), s) in map.iter_mut() {
            if *c != cluster_id {
                continue;
            }
            if let Some(rate) = s.peak_rate {
                loads.insert(
                    *vmid,
                    Load {
                        cpu: s.peak_cpu,
                        bytes_per_sec: rate,
                    },
                );
                s.peak_cpu = 0.0;
                s.peak_rate = Some(0.0);
            }
        }
        loads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pve::GuestKind;

    fn guest(vmid: u32, status: &str, cpu: f64, net: u64) -> GuestResource {
        GuestResource {
            vmid,
            node: "pve1".into(),
            kind: GuestKind::Qemu,
            status: status.into(),
            name: None,
            template: false,
            uptime: 10,
            cpu,
            maxcpu: 1.0,
            mem: 0,
            maxmem: 1,
            maxdisk: 1,
            netin: net,
            netout: 0,
            lock: None,
            tags: None,
            pool: None,
        }
    }

    #[test]
    fn a_rate_needs_two_samples_and_peaks_survive_until_taken() {
        let a = Activity::default();
        a.record(1, 100, &[guest(100, "running", 0.01, 1_000)]);
        assert!(a.take(1).is_empty());
        a.record(1, 105, &[guest(100, "running", 0.90, 501_000)]); // 100 KB/s burst
        a.record(1, 110, &[guest(100, "running", 0.01, 502_000)]);
        let load = a.take(1)[&100];
        assert_eq!(load.cpu, 0.90);
        assert_eq!(load.bytes_per_sec, 100_000.0);
        a.record(1, 115, &[guest(100, "running", 0.02, 503_000)]);
        let load = a.take(1)[&100];
        assert_eq!((load.cpu, load.bytes_per_sec), (0.02, 200.0));
    }

    #[test]
    fn a_stopped_guest_or_a_new_boot_starts_over() {
        let a = Activity::default();
        a.record(1, 100, &[guest(100, "running", 0.5, 1_000)]);
        a.record(1, 105, &[guest(100, "running", 0.5, 2_000)]);
        a.record(1, 110, &[guest(100, "stopped", 0.0, 0)]);
        assert!(a.take(1).is_empty());
        a.record(1, 115, &[guest(100, "running", 0.5, 9_000)]);
        a.record(1, 120, &[guest(100, "running", 0.5, 100)]); // counters reset: rebooted
        assert!(a.take(1).is_empty());
    }
}
