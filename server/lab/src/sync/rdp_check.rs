//! The optional RDP port check: a TCP connection to port 3389 of each running VM whose IP the
//! sync already knows, once per address. Only those addresses are contacted, never a range.
//! The answer (`vms.rdp_open`) hides the RDP button where RDP cannot work.

use crate::db::entity::vm;
use crate::inventory::bump_for_vms;
use crate::{Result, Services};
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub const RDP_PORT: u16 = 3389;
const TIMEOUT: Duration = Duration::from_millis(500);
/// Connection attempts at once.
const PARALLEL: usize = 32;

/// Whether something accepts TCP connections at `addr` within the timeout.
pub async fn port_open(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// Checks the running VMs of `cluster_id` with a known, unchecked IP; returns how many.
pub async fn run(services: &Services, cluster_id: i32) -> Result<usize> {
    run_on_port(services, cluster_id, RDP_PORT).await
}

/// [`run`] against another port (tests listen on a free loopback port).
pub async fn run_on_port(services: &Services, cluster_id: i32, port: u16) -> Result<usize> {
    let rows = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Status.eq("running"))
        .filter(vm::Column::Ip.is_not_null())
        .filter(vm::Column::RdpOpen.is_null())
        .all(&services.db)
        .await?;
    let targets: Vec<(i32, i32, String, SocketAddr)> = rows
        .into_iter()
        .filter_map(|r| {
            let ip: IpAddr = r.ip.as_deref()?.parse().ok()?;
            Some((r.id, r.vmid, r.ip?, SocketAddr::new(ip, port)))
        })
        .collect();
    let results: Vec<_> = futures_util::stream::iter(targets)
        .map(|(id, vmid, ip, addr)| async move { (id, vmid, ip, port_open(addr).await) })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut touched = HashSet::new();
    for (id, vmid, ip, open) in &results {
        // Only if the address is still the one checked.
        vm::Entity::update_many()
            .col_expr(vm::Column::RdpOpen, Expr::value(*open))
            .filter(vm::Column::Id.eq(*id))
            .filter(vm::Column::Ip.eq(ip.as_str()))
            .exec(&services.db)
            .await?;
        touched.insert(*vmid);
    }
    bump_for_vms(&services.db, cluster_id, &touched).await?;
    Ok(results.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_open_and_a_closed_loopback_port() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap();
        assert!(port_open(open).await);
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        assert!(!port_open(closed).await);
    }
}
