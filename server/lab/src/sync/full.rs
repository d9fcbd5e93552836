//! Full sync: configs (MACs, OS type, digest) and IPs, spending Proxmox calls only where
//! something can have changed.
//!
//! * A config is read when the quick sync flagged the guest (`needs_detail`: new, moved,
//!   renamed, just started).
//! * An IP is asked for while a running guest has none and is still booting (or was just
//!   flagged): guest agent for QEMU, `/interfaces` for LXC. A guest that never reports one is
//!   not asked again until it changes state, so idle clusters cost almost nothing.
//! * Then, optionally, the portal host's neighbour table by MAC ([`super::neighbours`]).
//!
//! Calls run concurrently, at most [`PER_NODE`] per node; offline nodes are skipped (their
//! guests are `unknown` from the quick sync). No transaction is held across a remote call:
//! results are gathered first, then written in one transaction.

use super::neighbours;
use super::status::{self, Run};
use crate::clock::now;
use crate::db::entity::{cluster, vm};
use crate::inventory::bump_for_vms;
use crate::pve::{Client, GuestConfig, GuestKind, NetInterface};
use crate::{Result, Services, clusters};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Concurrent calls per node.
pub const PER_NODE: usize = 4;
/// A running guest without an IP is asked again while it started less than this long ago.
const BOOT_WINDOW_SECS: i64 = 600;

#[derive(Debug, Default)]
pub struct FullReport {
    pub calls: i64,
    pub configs: usize,
    pub ips_found: usize,
    /// Some guest is still booting without an IP: worth another look soon.
    pub booting: bool,
}

/// What a guest's detail calls brought back.
struct Detail {
    vmid: i32,
    config: Option<GuestConfig>,
    /// `Some` when an IP lookup ran (found or not).
    ip: Option<Option<(String, &'static str)>>,
}

pub async fn run(
    services: &Services,
    cluster: &cluster::Model,
    neighbour_table: Option<&Path>,
) -> Result<FullReport> {
    let client = clusters::client(services, cluster)?;
    let started = Instant::now();
    let calls = Arc::new(AtomicI64::new(1));
    let nodes = match client.nodes().await {
        Ok(nodes) => nodes,
        Err(e) => {
            let run = Run::Failed {
                error: e.to_string(),
            };
            status::record(&services.db, cluster.id, run, 1).await?;
            return Err(e.into());
        }
    };
    let now = now();
    super::nodes::record(&services.db, cluster.id, &client, &nodes, now, &calls).await?;
    let online: HashSet<String> = nodes
        .into_iter()
        .filter(|n| n.online)
        .map(|n| n.node)
        .collect();
    super::isos::record(services, cluster.id, &client, &online, now, &calls).await?;
    let semaphores: HashMap<String, Arc<Semaphore>> = online
        .iter()
        .map(|n| (n.clone(), Arc::new(Semaphore::new(PER_NODE))))
        .collect();
    // With SSH settings, all configs come in one node command instead of a call per guest.
    let wants_configs = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster.id))
        .filter(vm::Column::NeedsDetail.eq(true))
        .filter(vm::Column::Node.is_in(online.iter().cloned()))
        .count(&services.db)
        .await?
        > 0;
    let mut batch = if wants_configs {
        configs_over_ssh(services, cluster, &online).await
    } else {
        HashMap::new()
    };
    let mut report = FullReport::default();
    let page = Page {
        client: &client,
        calls: &calls,
        semaphores: &semaphores,
        neighbour_table,
        now,
    };
    // Only rows with work (a config to read, a running guest without an IP), a page at a
    // time: an idle cluster of 10 000 VMs reads next to nothing, a first sync stays flat.
    let mut after = 0;
    // A page is written while the next one's calls run (SQLite has one writer; reads go on).
    let mut writing: Option<tokio::task::JoinHandle<Result<()>>> = None;
    loop {
        let rows = vm::Entity::find()
            .filter(vm::Column::ClusterId.eq(cluster.id))
            .filter(vm::Column::Id.gt(after))
            .filter(with_work(now, neighbour_table.is_some()))
            .order_by_asc(vm::Column::Id)
            .limit(PAGE_ROWS)
            .all(&services.db)
            .await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.id;
        let updated = page.details(&rows, &mut batch, &mut report).await;
        if let Some(previous) = writing.take() {
            previous
                .await
                .map_err(|e| crate::Error::Internal(e.to_string()))??;
        }
        writing = Some(tokio::spawn(write(
            services.clone(),
            cluster.id,
            rows,
            updated,
        )));
    }
    if let Some(last) = writing {
        last.await
            .map_err(|e| crate::Error::Internal(e.to_string()))??;
    }
    report.calls = calls.load(Ordering::Relaxed);
    let run = Run::Full {
        ms: started.elapsed().as_millis() as i64,
        calls: report.calls,
    };
    // The quick-sync call is counted by the quick sync; here only the full sync's own calls.
    status::record(&services.db, cluster.id, run, report.calls).await?;
    Ok(report)
}

/// Rows read and handled at once by the full sync.
const PAGE_ROWS: u64 = 500;

/// What every page of a full sync shares.
struct Page<'a> {
    client: &'a Client,
    calls: &'a Arc<AtomicI64>,
    semaphores: &'a HashMap<String, Arc<Semaphore>>,
    neighbour_table: Option<&'a Path>,
    now: i64,
}

impl Page<'_> {
    /// Details for one page of rows: the calls, and the rows as they should be now.
    async fn details(
        &self,
        rows: &[vm::Model],
        batch: &mut HashMap<u32, GuestConfig>,
        report: &mut FullReport,
    ) -> HashMap<i32, vm::Model> {
        let now = self.now;
        let mut given: Vec<Detail> = Vec::new();
        let mut tasks = JoinSet::new();
        for row in rows {
            let Some(semaphore) = self.semaphores.get(&row.node) else {
                continue;
            };
            let mut want_config = row.needs_detail;
            if want_config && let Some(config) = batch.remove(&(row.vmid as u32)) {
                given.push(Detail {
                    vmid: row.vmid,
                    config: Some(config),
                    ip: None,
                });
                want_config = false;
            }
            let want_ip = wants_ip(row, now);
            if !want_config && !want_ip {
                continue;
            }
            let (client, semaphore, calls) =
                (self.client.clone(), semaphore.clone(), self.calls.clone());
            let (node, vmid, kind, macs) =
                (row.node.clone(), row.vmid, kind_of(row), row.macs.clone());
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await.ok();
                detail(
                    &client,
                    &calls,
                    &node,
                    kind,
                    vmid,
                    macs,
                    want_config,
                    want_ip,
                )
                .await
            });
        }
        let mut details = Vec::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok(detail) = done {
                details.push(detail);
            }
        }
        // A guest may have had both: its config from the batch, its IP from a call.
        for g in given {
            match details.iter_mut().find(|d| d.vmid == g.vmid) {
                Some(d) => d.config = g.config,
                None => details.push(g),
            }
        }
        report.configs += details.iter().filter(|d| d.config.is_some()).count();
        let by_vmid: HashMap<i32, &vm::Model> = rows.iter().map(|r| (r.vmid, r)).collect();
        let mut updated: HashMap<i32, vm::Model> = HashMap::new();
        for d in details {
            let Some(old) = by_vmid.get(&d.vmid) else {
                continue;
            };
            let mut new = (*old).clone();
            if let Some(config) = &d.config {
                new.macs = Some(macs_of(config).join(",")).filter(|m| !m.is_empty());
                new.os_type = config.get("ostype").map(str::to_owned);
                new.config_digest = config.digest.clone();
                new.firmware = Some(firmware_of(config).to_owned());
                new.disk_storage = first_disk_storage(config);
                new.cdrom = cdrom_iso(config);
                new.nics = Some(crate::model::Nic::list_text(&nics_of(config)));
                new.needs_detail = false;
            }
            if let Some(found) = d.ip {
                new.ip_checked_at = Some(now);
                if let Some((ip, source)) = found {
                    new.ip = Some(ip);
                    new.ip_source = Some(source.to_owned());
                }
            }
            updated.insert(d.vmid, new);
        }
        if let Some(path) = self.neighbour_table {
            fill_from_neighbours(path, rows, &mut updated);
        }
        report.ips_found += updated
            .values()
            .filter(|n| n.ip.is_some() && by_vmid.get(&n.vmid).is_some_and(|o| o.ip.is_none()))
            .count();
        report.booting |= rows
            .iter()
            .map(|r| updated.get(&r.vmid).unwrap_or(r))
            .any(|r| r.status == "running" && r.ip.is_none() && in_boot_window(r, now));
        updated
    }
}

/// Every guest config through one command on a node, when the cluster has SSH settings;
/// empty (the API is used) when it has none or the node cannot be reached.
async fn configs_over_ssh(
    services: &Services,
    cluster: &cluster::Model,
    online: &HashSet<String>,
) -> HashMap<u32, GuestConfig> {
    if cluster.ssh_user.is_none() {
        return HashMap::new();
    }
    let Some(node) = online.iter().min() else {
        return HashMap::new();
    };
    let read = async {
        let shell = crate::node::shell_for(services, cluster, node).await?;
        Ok::<_, crate::Error>(crate::node::read_all_configs(&shell, &cluster.pve_root).await?)
    };
    match read.await {
        Ok(all) => all,
        Err(e) => {
            tracing::debug!(cluster = %cluster.name, error = %e, "configs over SSH failed; using the API");
            HashMap::new()
        }
    }
}

/// `BIOS`, `UEFI` or `UEFI + TPM`.
fn firmware_of(config: &GuestConfig) -> &'static str {
    match (
        config.get("bios") == Some("ovmf"),
        config.get("tpmstate0").is_some(),
    ) {
        (false, _) => "BIOS",
        (true, false) => "UEFI",
        (true, true) => "UEFI + TPM",
    }
}

/// The first data disk's key and value (`scsi0`, `local-lvm:vm-100-disk-0,size=32G`).
fn first_disk(config: &GuestConfig) -> Option<&(String, String)> {
    config
        .entries
        .iter()
        .filter(|(k, v)| {
            ["scsi", "virtio", "sata", "ide"]
                .iter()
                .any(|p| k.strip_prefix(p).is_some_and(|n| n.parse::<u32>().is_ok()))
                && !v.contains("media=cdrom")
        })
        .min()
}

/// The first data disk's key (`scsi0`), for growing it.
pub(crate) fn first_disk_key(config: &GuestConfig) -> Option<String> {
    first_disk(config).map(|(k, _)| k.clone())
}

/// The storage of the first data disk (`scsi0: local-lvm:vm-100-disk-0,…` → `local-lvm`).
fn first_disk_storage(config: &GuestConfig) -> Option<String> {
    first_disk(config)
        .and_then(|(_, v)| v.split(',').next()?.split_once(':'))
        .map(|(storage, _)| storage.to_owned())
}

/// The first CD drive's key and value (`ide2`, `local:iso/x.iso,media=cdrom`).
pub(crate) fn first_cdrom(config: &GuestConfig) -> Option<&(String, String)> {
    config
        .entries
        .iter()
        .filter(|(_, v)| v.contains("media=cdrom"))
        .min()
}

/// A QEMU guest's network cards (`net0: virtio=BC:…,bridge=vmbr0,firewall=1`), by index.
pub(crate) fn nics_of(config: &GuestConfig) -> Vec<crate::model::Nic> {
    net_lines(config)
        .into_iter()
        .filter_map(|(key, value)| {
            let model = value.split(',').next()?.split('=').next()?.to_string();
            let bridge = value
                .split(',')
                .find_map(|p| p.strip_prefix("bridge="))
                .unwrap_or_default()
                .to_string();
            Some(crate::model::Nic {
                key: key.to_owned(),
                model,
                bridge,
            })
        })
        .collect()
}

/// The `netN` lines of a config, by `N` (not by text: `net10` after `net9`).
fn net_lines(config: &GuestConfig) -> Vec<(&str, &str)> {
    let mut nets: Vec<(u32, &str, &str)> = config
        .entries
        .iter()
        .filter_map(|(key, value)| {
            let n = key.strip_prefix("net")?.parse::<u32>().ok()?;
            Some((n, key.as_str(), value.as_str()))
        })
        .collect();
    nets.sort_by_key(|(n, ..)| *n);
    nets.into_iter().map(|(_, k, v)| (k, v)).collect()
}

/// The ISO in the first CD drive (`ide2: local:iso/x.iso,media=cdrom,size=…`); `None` for
/// an empty drive (`none,media=cdrom`), a physical one (`cdrom`) or no drive.
pub(crate) fn cdrom_iso(config: &GuestConfig) -> Option<String> {
    first_cdrom(config)
        .and_then(|(_, v)| v.split(',').next())
        .filter(|volid| volid.contains(":iso/"))
        .map(str::to_owned)
}

fn in_boot_window(row: &vm::Model, now: i64) -> bool {
    row.started_at.is_some_and(|t| now - t < BOOT_WINDOW_SECS)
}

/// The rows a full sync can have work for, as a query: a config to read, or a running guest
/// without an IP that [`wants_ip`] would ask for (or any such guest, when the neighbour
/// table is looked at).
fn with_work(now: i64, neighbours: bool) -> Condition {
    let without_ip = Condition::all()
        .add(vm::Column::Status.eq("running"))
        .add(vm::Column::Ip.is_null());
    let lookup = if neighbours {
        without_ip
    } else {
        without_ip.add(vm::Column::Template.eq(false)).add(
            Condition::any()
                .add(vm::Column::IpCheckedAt.is_null())
                .add(vm::Column::StartedAt.gt(now - BOOT_WINDOW_SECS)),
        )
    };
    Condition::any()
        .add(vm::Column::NeedsDetail.eq(true))
        .add(lookup)
}

/// Whether an IP lookup is worth a call now.
fn wants_ip(row: &vm::Model, now: i64) -> bool {
    row.status == "running"
        && !row.template
        && row.ip.is_none()
        && (row.needs_detail || row.ip_checked_at.is_none() || in_boot_window(row, now))
}

fn kind_of(row: &vm::Model) -> GuestKind {
    if row.kind == "lxc" {
        GuestKind::Lxc
    } else {
        GuestKind::Qemu
    }
}

#[allow(clippy::too_many_arguments)]
async fn detail(
    client: &Client,
    calls: &AtomicI64,
    node: &str,
    kind: GuestKind,
    vmid: i32,
    macs: Option<String>,
    want_config: bool,
    want_ip: bool,
) -> Detail {
    let mut detail = Detail {
        vmid,
        config: None,
        ip: None,
    };
    let mut macs: Vec<String> = macs
        .map(|m| m.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    if want_config {
        calls.fetch_add(1, Ordering::Relaxed);
        match client.guest_config(node, kind, vmid as u32).await {
            Ok(config) => {
                macs = macs_of(&config);
                detail.config = Some(config);
            }
            Err(e) => tracing::debug!(vmid, error = %e, "config read failed"),
        }
    }
    if want_ip {
        calls.fetch_add(1, Ordering::Relaxed);
        let (found, source) = match kind {
            GuestKind::Qemu => (client.agent_interfaces(node, vmid as u32).await, "agent"),
            GuestKind::Lxc => (client.lxc_interfaces(node, vmid as u32).await, "lxc"),
        };
        detail.ip = Some(match found {
            Ok(interfaces) => pick_ip(&interfaces, &macs).map(|ip| (ip.to_string(), source)),
            Err(e) => {
                tracing::debug!(vmid, error = %e, "no IP from Proxmox yet");
                None
            }
        });
    }
    detail
}

/// Lower-case MACs of the `netN` lines, in order (`virtio=AA:…,bridge=…` or `hwaddr=AA:…`).
pub fn macs_of(config: &GuestConfig) -> Vec<String> {
    net_lines(config)
        .into_iter()
        .filter_map(|(_, value)| {
            value.split(',').find_map(|part| {
                let (_, v) = part.split_once('=')?;
                is_mac(v).then(|| v.to_ascii_lowercase())
            })
        })
        .collect()
}

fn is_mac(text: &str) -> bool {
    text.len() == 17
        && text
            .split(':')
            .all(|pair| pair.len() == 2 && pair.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The address people should connect to: IPv4 on the guest's own NIC first, then any IPv4,
/// then a global IPv6.
pub fn pick_ip(interfaces: &[NetInterface], macs: &[String]) -> Option<IpAddr> {
    let own = |i: &&NetInterface| {
        i.mac
            .as_deref()
            .is_some_and(|m| macs.iter().any(|x| x.eq_ignore_ascii_case(m)))
    };
    let usable = |ip: &&IpAddr| !ip.is_loopback() && !ip.is_unspecified();
    let v4 = |i: &NetInterface| i.ips.iter().filter(usable).find(|ip| ip.is_ipv4()).copied();
    interfaces
        .iter()
        .filter(own)
        .find_map(v4)
        .or_else(|| interfaces.iter().find_map(v4))
        .or_else(|| {
            interfaces
                .iter()
                .flat_map(|i| i.ips.iter())
                .find(|ip| {
                    usable(ip)
                        && matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) != 0xfe80)
                })
                .copied()
        })
}

fn fill_from_neighbours(path: &Path, rows: &[vm::Model], updated: &mut HashMap<i32, vm::Model>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let table = neighbours::parse_arp(&text);
    for row in rows {
        let current = updated.get(&row.vmid).unwrap_or(row);
        if current.status != "running" || current.ip.is_some() {
            continue;
        }
        let found = current
            .macs
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .find_map(|mac| table.get(mac));
        if let Some(ip) = found {
            let mut new = current.clone();
            new.ip = Some(ip.to_string());
            new.ip_source = Some("neighbour".into());
            updated.insert(row.vmid, new);
        }
    }
}

async fn write(
    services: Services,
    cluster_id: i32,
    rows: Vec<vm::Model>,
    updated: HashMap<i32, vm::Model>,
) -> Result<()> {
    let services = &services;
    let old: HashMap<i32, vm::Model> = rows.into_iter().map(|r| (r.vmid, r)).collect();
    let changed: Vec<vm::Model> = updated
        .into_values()
        .filter(|n| old.get(&n.vmid).is_some_and(|o| o != n))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let _writing = services.sync.lock(cluster_id).await;
    // People see IPs and OS icons; digests and check times are not worth a poll.
    let visible: HashSet<i32> = changed
        .iter()
        .filter(|n| {
            old.get(&n.vmid)
                .is_some_and(|o| o.ip != n.ip || o.os_type != n.os_type)
        })
        .map(|n| n.vmid)
        .collect();
    let txn = services.db.begin().await?;
    for row in changed {
        // A new address has not been checked for RDP yet.
        let same_ip = old.get(&row.vmid).is_some_and(|o| o.ip == row.ip);
        // Only the detail columns: a quick sync may have written status since we read.
        vm::ActiveModel {
            id: sea_orm::ActiveValue::Unchanged(row.id),
            macs: Set(row.macs),
            os_type: Set(row.os_type),
            config_digest: Set(row.config_digest),
            needs_detail: Set(row.needs_detail),
            ip: Set(row.ip),
            ip_source: Set(row.ip_source),
            ip_checked_at: Set(row.ip_checked_at),
            rdp_open: Set(if same_ip { row.rdp_open } else { None }),
            firmware: Set(row.firmware),
            disk_storage: Set(row.disk_storage),
            cdrom: Set(row.cdrom),
            nics: Set(row.nics),
            ..Default::default()
        }
        .update(&txn)
        .await?;
    }
    bump_for_vms(&txn, cluster_id, &visible).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entries: &[(&str, &str)]) -> GuestConfig {
        GuestConfig {
            entries: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            digest: None,
        }
    }

    #[test]
    fn macs_come_from_net_lines_in_order() {
        let c = config(&[
            ("net1", "e1000=BC:24:11:00:00:02,bridge=vmbr1"),
            ("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1"),
            (
                "net2",
                "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:03,ip=dhcp",
            ),
            ("ide2", "local:iso/x.iso,media=cdrom"),
        ]);
        assert_eq!(
            macs_of(&c),
            [
                "bc:24:11:00:00:01",
                "bc:24:11:00:00:02",
                "bc:24:11:00:00:03"
            ]
        );
    }

    #[test]
    fn the_ip_of_the_guests_own_nic_wins() {
        let nic = |mac: &str, ips: &[&str]| NetInterface {
            name: "eth".into(),
            mac: Some(mac.into()),
            ips: ips.iter().map(|i| i.parse().unwrap()).collect(),
        };
        let list = [
            nic("02:42:00:00:00:01", &["172.17.0.1"]),
            nic("bc:24:11:00:00:01", &["fe80::1", "10.20.0.5"]),
        ];
        let macs = ["BC:24:11:00:00:01".to_string()];
        assert_eq!(pick_ip(&list, &macs), Some("10.20.0.5".parse().unwrap()));
        assert_eq!(pick_ip(&list, &[]), Some("172.17.0.1".parse().unwrap()));
        let v6 = [nic("bc:24:11:00:00:01", &["fe80::1", "2001:db8::5"])];
        assert_eq!(pick_ip(&v6, &macs), Some("2001:db8::5".parse().unwrap()));
        assert_eq!(
            pick_ip(&[nic("aa:bb:cc:dd:ee:ff", &["fe80::1"])], &macs),
            None
        );
    }
}
