//! Where SSH through the portal may connect: only to a VM address inside the cluster's VM
//! subnets (an admin setting; SSH through the portal is off for a cluster until it is set),
//! and never to this host or to a Proxmox node.
//!
//! Why: the VM's IP comes from the guest agent, which a student with root in their VM
//! controls. Without this rule they could point the portal's SSH client at any host the portal
//! can reach (port 22, with credentials they type): the portal's own sshd on loopback, the
//! Proxmox nodes, or anything else on the school's network.
//!
//! "This host" is tested by binding a socket to the address: the kernel lets a process bind
//! only to its own addresses, so this needs no list of interfaces (and no `unsafe`
//! `getifaddrs`). The nodes are the hosts of the cluster's API URLs (resolved) and the
//! members Proxmox lists in `/cluster/status`.

use crate::db::entity::cluster;
use crate::{Error, Result, Services, clusters};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// Refuses `ip` unless it is inside `subnets` and none of `forbidden`, nor special (loopback,
/// unspecified, multicast, link-local, broadcast), nor an address of this host.
pub fn check_address(ip: IpAddr, subnets: &[IpNet], forbidden: &[IpAddr]) -> Result<()> {
    if subnets.is_empty() {
        return Err(Error::Conflict(
            "SSH through the portal is off for this cluster: an admin must set its VM subnets \
             (Clusters, VM subnets) first."
                .into(),
        ));
    }
    let ip = canonical(ip);
    if special(ip) {
        return Err(Error::Conflict(format!(
            "The VM's address {ip} is a loopback, link-local, multicast or unspecified address; \
             SSH refused."
        )));
    }
    if forbidden.iter().any(|f| canonical(*f) == ip) || is_this_host(ip) {
        return Err(Error::Conflict(format!(
            "The VM's address {ip} belongs to the portal or a Proxmox node; SSH refused."
        )));
    }
    if !subnets.iter().any(|net| net.contains(&ip)) {
        return Err(Error::Conflict(format!(
            "The VM's address {ip} is outside the cluster's VM subnets; SSH refused."
        )));
    }
    Ok(())
}

/// The addresses of the cluster's nodes: its API URLs' hosts and `/cluster/status`'s members.
/// Fails when Proxmox cannot say (the relay then refuses rather than guess).
pub async fn node_addresses(services: &Services, cluster: &cluster::Model) -> Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for url in cluster.api_urls.lines() {
        let Ok(url) = url::Url::parse(url.trim()) else {
            continue;
        };
        let Some(host) = url.host_str() else { continue };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse() {
            out.push(ip);
        } else if let Ok(found) = tokio::net::lookup_host((host, 0)).await {
            out.extend(found.map(|a: SocketAddr| a.ip()));
        }
    }
    let client = clusters::client(services, cluster)?;
    for member in client.cluster_members().await? {
        if let Some(ip) = member.ip.as_deref().and_then(|ip| ip.parse().ok()) {
            out.push(ip);
        }
    }
    Ok(out)
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn special(ip: IpAddr) -> bool {
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || match ip {
            IpAddr::V4(v4) => v4.is_link_local() || v4.is_broadcast(),
            IpAddr::V6(v6) => v6.is_unicast_link_local(),
        }
}

/// Whether `ip` is one of this host's addresses (binding succeeds only for those).
fn is_this_host(ip: IpAddr) -> bool {
    UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn only_addresses_inside_the_subnets_pass() {
        let subnets = nets(&["10.20.0.0/24", "fd00:20::/64"]);
        for ok in ["10.20.0.17", "fd00:20::17", "::ffff:10.20.0.17"] {
            assert!(
                check_address(ok.parse().unwrap(), &subnets, &[]).is_ok(),
                "{ok}"
            );
        }
        for outside in ["10.20.1.17", "192.168.1.1", "8.8.8.8", "fd00:21::1"] {
            let err = check_address(outside.parse().unwrap(), &subnets, &[]).unwrap_err();
            assert!(err.to_string().contains("outside"), "{outside}: {err}");
        }
    }

    #[test]
    fn nothing_passes_until_an_admin_sets_subnets() {
        let err = check_address("10.20.0.17".parse().unwrap(), &[], &[]).unwrap_err();
        assert!(err.to_string().contains("VM subnets"), "{err}");
    }

    #[test]
    fn the_portal_the_nodes_and_special_addresses_never_pass() {
        // Even a subnet that covers them does not let them through.
        let subnets = nets(&["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"]);
        let node: IpAddr = "10.20.0.2".parse().unwrap();
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "169.254.169.254",
            "fe80::1",
            "224.0.0.1",
            "255.255.255.255",
            "10.20.0.2",
            "::ffff:10.20.0.2",
        ] {
            let err = check_address(bad.parse().unwrap(), &subnets, &[node]).unwrap_err();
            assert!(err.to_string().contains("SSH refused"), "{bad}: {err}");
            assert!(!err.to_string().contains("outside"), "{bad}: {err}");
        }
    }

    #[test]
    fn this_hosts_own_addresses_are_recognised() {
        assert!(is_this_host("127.0.0.1".parse().unwrap()));
        assert!(
            !is_this_host("192.0.2.1".parse().unwrap()),
            "TEST-NET-1 is nobody's"
        );
    }
}
