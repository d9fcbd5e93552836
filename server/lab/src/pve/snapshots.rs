//! Snapshots of a guest (`…/{qemu,lxc}/{vmid}/snapshot`), all tasks but the list.
//!
//! Rules these calls meet (pve-guest-common `AbstractConfig.pm` `snapshot_create`,
//! `snapshot_rollback`, `snapshot_delete`; qemu-server `PVE/API2/Qemu.pm`): a snapshot is a
//! section of the config file; the guest is locked (`snapshot`, `rollback`,
//! `snapshot-delete`) while the task runs, so a power action meanwhile fails; a rollback of a
//! running VM stops it, unless the snapshot holds RAM (`vmstate`), which resumes it as it was;
//! `start=1` starts it afterwards (PVE 7.2+). `force=1` on delete drops the config section
//! even when removing a disk's snapshot fails, so a broken snapshot can still be removed.
//! The list always ends with the pseudo entry `current`, whose `parent` is the snapshot the
//! present state descends from.

use super::client::{Client, seg, upid};
use super::error::Error;
use super::types::{GuestKind, SnapshotEntry};
use reqwest::Method;

impl Client {
    pub async fn snapshots(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
    ) -> Result<Vec<SnapshotEntry>, Error> {
        let path = format!("nodes/{}/{}/{vmid}/snapshot", seg(node), kind.as_str());
        let data = self.request(Method::GET, &path, None).await?;
        serde_json::from_value(data).map_err(|e| Error::Decode(format!("snapshot list: {e}")))
    }

    /// Takes snapshot `name`; `vmstate` saves the RAM of a running QEMU VM too.
    pub async fn take_snapshot(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        name: &str,
        description: &str,
        vmstate: bool,
    ) -> Result<String, Error> {
        let path = format!("nodes/{}/{}/{vmid}/snapshot", seg(node), kind.as_str());
        let mut form = vec![("snapname", name), ("description", description)];
        if vmstate && kind == GuestKind::Qemu {
            form.push(("vmstate", "1"));
        }
        upid(
            self.request(Method::POST, &path, Some(&form)).await?,
            "the snapshot call",
        )
    }

    pub async fn rollback_snapshot(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        name: &str,
    ) -> Result<String, Error> {
        let path = format!(
            "nodes/{}/{}/{vmid}/snapshot/{}/rollback",
            seg(node),
            kind.as_str(),
            seg(name)
        );
        upid(
            self.request(Method::POST, &path, None).await?,
            "the snapshot call",
        )
    }

    /// Deletes snapshot `name` (`force`: drop it from the config even if a disk refuses).
    pub async fn delete_snapshot(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        name: &str,
        force: bool,
    ) -> Result<String, Error> {
        let path = format!(
            "nodes/{}/{}/{vmid}/snapshot/{}{}",
            seg(node),
            kind.as_str(),
            seg(name),
            if force { "?force=1" } else { "" }
        );
        upid(
            self.request(Method::DELETE, &path, None).await?,
            "the snapshot call",
        )
    }
}
