//! One shell per cluster node, kept between jobs and syncs: an SSH master costs a TCP and
//! SSH handshake (and the node's login shell), so it is made once and reused (the shell
//! itself reconnects when its master has died). Forgotten when the cluster's settings change.

use super::{LocalShell, NodeShell, SshShell, SshTarget};
use crate::db::entity::cluster;
use crate::{Error, Result, Services, clusters};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// (cluster id, node name) → its shell.
type ShellMap = HashMap<(i32, String), Arc<NodeShell>>;

#[derive(Clone, Default)]
pub struct NodeShells(Arc<Mutex<ShellMap>>);

impl NodeShells {
    /// Drops the cluster's shells (its SSH settings changed, or it was removed).
    pub async fn forget(&self, cluster_id: i32) {
        self.0.lock().await.retain(|(id, _), _| *id != cluster_id);
    }
}

/// A shell on `node`: SSH when the cluster has SSH settings, else this host.
pub async fn shell_for(
    services: &Services,
    cluster: &cluster::Model,
    node: &str,
) -> Result<Arc<NodeShell>> {
    let Some(user) = &cluster.ssh_user else {
        return Ok(Arc::new(NodeShell::local(LocalShell::default())));
    };
    let key = (cluster.id, node.to_owned());
    // Held while connecting, so two callers never open two masters to one node.
    let mut shells = services.shells.0.lock().await;
    if let Some(shell) = shells.get(&key) {
        return Ok(shell.clone());
    }
    let target = ssh_target(services, cluster, node, user).await?;
    let shell = Arc::new(NodeShell::ssh(SshShell::connect(target).await?));
    shells.insert(key, shell.clone());
    Ok(shell)
}

async fn ssh_target(
    services: &Services,
    cluster: &cluster::Model,
    node: &str,
    user: &str,
) -> Result<SshTarget> {
    let key = cluster.ssh_key_enc.as_deref().ok_or_else(|| {
        Error::Invalid(format!(
            "Cluster {} has an SSH user but no SSH key.",
            cluster.name
        ))
    })?;
    let host_keys = cluster.ssh_host_keys.clone().ok_or_else(|| {
        Error::Invalid(format!(
            "Cluster {}: pin the nodes' SSH host keys before node operations.",
            cluster.name
        ))
    })?;
    let client = clusters::client(services, cluster)?;
    let host = client
        .cluster_members()
        .await?
        .into_iter()
        .find(|m| m.name == node)
        .and_then(|m| m.ip)
        .ok_or_else(|| Error::Unavailable(format!("The address of node {node} is unknown.")))?;
    Ok(SshTarget {
        host,
        port: u16::try_from(cluster.ssh_port).unwrap_or(22),
        user: user.to_owned(),
        key: services.secrets.open("ssh-key", key)?,
        host_keys,
        connect_timeout: Duration::from_secs(10),
        command_timeout: Duration::from_secs(600),
    })
}
