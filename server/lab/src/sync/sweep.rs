//! The optional subnet sweep, the last IP discovery tier: `nmap -sn` over the subnets an
//! admin listed (`[sync] sweep_subnets`, empty by default: off), matching the MACs nmap
//! reports against running VMs that still have no IP. It runs only when such a VM exists,
//! at most every `sweep_secs`, and never over a range nobody configured.
//!
//! nmap (Debian's package) does the probing because it is the tool admins know and trust for
//! this; it reports MACs for hosts on directly attached Ethernet segments (ARP), which is
//! where lab VMs sit next to a portal installed in the same network.

use crate::db::entity::vm;
use crate::inventory::bump_for_vms;
use crate::{Error, Result, Services};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// The widest subnet accepted (a /16 is 65 536 addresses).
const WIDEST_PREFIX: u8 = 16;
/// nmap gets this long for the whole sweep.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Checks the admin's list: IPv4 `a.b.c.d/len` with `len` from 16 to 32. Returns them in
/// canonical form (network address).
pub fn check_subnets(list: &[String]) -> std::result::Result<Vec<String>, String> {
    list.iter()
        .map(|s| {
            let (addr, len) = s
                .trim()
                .split_once('/')
                .ok_or_else(|| format!("sweep subnet {s:?}: write it as a.b.c.d/len"))?;
            let addr: Ipv4Addr = addr
                .parse()
                .map_err(|_| format!("sweep subnet {s:?}: not an IPv4 address"))?;
            let len: u8 = len
                .parse()
                .ok()
                .filter(|l| (WIDEST_PREFIX..=32).contains(l))
                .ok_or_else(|| {
                    format!("sweep subnet {s:?}: the prefix must be /{WIDEST_PREFIX} to /32")
                })?;
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            Ok(format!("{}/{len}", Ipv4Addr::from(u32::from(addr) & mask)))
        })
        .collect()
}

/// MAC (lower case) → IPv4 of the hosts nmap found in `subnets`.
pub async fn sweep(subnets: &[String]) -> Result<HashMap<String, Ipv4Addr>> {
    let subnets = check_subnets(subnets).map_err(Error::Invalid)?;
    if subnets.is_empty() {
        return Ok(HashMap::new());
    }
    let out = tokio::time::timeout(
        TIMEOUT,
        tokio::process::Command::new("nmap")
            .args([
                "-sn",
                "-n",
                "-T4",
                "--max-retries",
                "1",
                "--host-timeout",
                "2s",
                "-oX",
                "-",
            ])
            .args(&subnets)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| Error::Unavailable("the subnet sweep timed out".into()))?
    .map_err(|e| {
        Error::Unavailable(format!(
            "nmap could not run ({e}); install Debian's nmap package"
        ))
    })?;
    if !out.status.success() {
        return Err(Error::Unavailable(format!(
            "nmap failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(parse_nmap_xml(&String::from_utf8_lossy(&out.stdout)))
}

/// The `<host>` entries of nmap's XML report that have both an IPv4 and a MAC address.
/// (A handful of attributes in a flat, well-known format: not worth an XML crate.)
fn parse_nmap_xml(xml: &str) -> HashMap<String, Ipv4Addr> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_owned())
    };
    let mut found = HashMap::new();
    for host in xml.split("<host").skip(1) {
        let host = host.split("</host>").next().unwrap_or("");
        let (mut ip, mut mac) = (None, None);
        for tag in host.split("<address").skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            match attr(tag, "addrtype").as_deref() {
                Some("ipv4") => ip = attr(tag, "addr").and_then(|a| a.parse::<Ipv4Addr>().ok()),
                Some("mac") => mac = attr(tag, "addr").map(|m| m.to_ascii_lowercase()),
                _ => {}
            }
        }
        if let (Some(ip), Some(mac)) = (ip, mac) {
            found.insert(mac, ip);
        }
    }
    found
}

/// Sweeps when a running VM of the cluster has MACs but no IP; fills those it finds.
/// Returns `None` when nothing needed a sweep (nmap did not run), else the IPs found.
pub async fn run(
    services: &Services,
    cluster_id: i32,
    subnets: &[String],
) -> Result<Option<usize>> {
    let rows: Vec<vm::Model> = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Status.eq("running"))
        .filter(vm::Column::Ip.is_null())
        .filter(vm::Column::Macs.is_not_null())
        .all(&services.db)
        .await?;
    if rows.is_empty() || subnets.is_empty() {
        return Ok(None);
    }
    let table = sweep(subnets).await?;
    let mut filled = std::collections::HashSet::new();
    let _writing = services.sync.lock(cluster_id).await;
    for row in rows {
        let Some(ip) = row
            .macs
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .find_map(|m| table.get(&m.to_ascii_lowercase()))
        else {
            continue;
        };
        // Only if no other tier found one meanwhile.
        vm::Entity::update_many()
            .col_expr(vm::Column::Ip, Expr::value(ip.to_string()))
            .col_expr(vm::Column::IpSource, Expr::value("sweep"))
            .filter(vm::Column::Id.eq(row.id))
            .filter(vm::Column::Ip.is_null())
            .exec(&services.db)
            .await?;
        filled.insert(row.vmid);
    }
    if !filled.is_empty() {
        bump_for_vms(&services.db, cluster_id, &filled).await?;
    }
    Ok(Some(filled.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_sane_ipv4_subnets_are_accepted() {
        let ok = check_subnets(&["10.20.30.77/24".into(), "192.168.1.5/32".into()]).unwrap();
        assert_eq!(ok, vec!["10.20.30.0/24", "192.168.1.5/32"]);
        for bad in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "10.0.0.0",
            "fe80::/64",
            "10.0.0.0/33",
            "-iL /etc/passwd",
            "10.0.0.0/24 -oN x",
        ] {
            assert!(check_subnets(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn nmap_xml_gives_mac_to_ip() {
        let xml = r#"<?xml version="1.0"?><nmaprun><host><status state="up"/>
<address addr="10.249.1.2" addrtype="ipv4"/><address addr="BC:24:11:AA:BB:CC" addrtype="mac" vendor="x"/>
</host><host><status state="up"/><address addr="10.249.1.1" addrtype="ipv4"/></host></nmaprun>"#;
        let found = parse_nmap_xml(xml);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found["bc:24:11:aa:bb:cc"],
            "10.249.1.2".parse::<Ipv4Addr>().unwrap()
        );
    }
}
