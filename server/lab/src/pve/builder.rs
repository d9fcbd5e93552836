//! What the VM builder asks of Proxmox: the nodes' bridges, a free VMID, and creating a VM
//! (qemu-server `API2/Qemu.pm` `create_vm`; pve-manager `API2/Cluster.pm` `nextid`;
//! pve-manager `API2/Network.pm` `index`).
//!
//! * `GET /nodes/{n}/network?type=any_bridge` lists Linux and OVS bridges (the guests'
//!   networks); `Sys.Audit` on the node.
//! * `GET /cluster/nextid` answers the lowest free VMID as a string; it reserves nothing, so
//!   a create can still find the VMID taken ("VM 104 already exists"): that error is shown,
//!   never retried with another VMID behind the person's back.
//! * `POST /nodes/{n}/qemu` reserves the VMID at once (a config with `lock: create`) and
//!   allocates `storage:SIZE` drives (GiB) in its task; `start=1` boots it after.

use super::client::{Client, seg, upid};
use super::error::Error;
use reqwest::Method;
use serde_json::Value;

impl Client {
    /// The node's bridges (`vmbr0`, …), sorted.
    pub async fn bridges(&self, node: &str) -> Result<Vec<String>, Error> {
        let path = format!("nodes/{}/network?type=any_bridge", seg(node));
        let data = self.request(Method::GET, &path, None).await?;
        let mut out: Vec<String> = data
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| {
                matches!(
                    i.get("type").and_then(Value::as_str),
                    Some("bridge" | "OVSBridge")
                )
            })
            .filter_map(|i| i.get("iface").and_then(Value::as_str).map(str::to_owned))
            .collect();
        out.sort();
        Ok(out)
    }

    pub async fn next_vmid(&self) -> Result<u32, Error> {
        let data = self.request(Method::GET, "cluster/nextid", None).await?;
        let text = match &data {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.trim()
            .parse()
            .map_err(|_| Error::Decode(format!("nextid: {text}")))
    }

    /// Creates a QEMU VM with `params` (`vmid` among them); returns the UPID.
    pub async fn create_vm(&self, node: &str, params: &[(&str, &str)]) -> Result<String, Error> {
        let path = format!("nodes/{}/qemu", seg(node));
        upid(
            self.request(Method::POST, &path, Some(params)).await?,
            "VM create",
        )
    }
}

impl Client {
    /// Grows a disk (`size` absolute like `40G` or relative `+10G`); a `resize` task since
    /// PVE 8 (qemu-server `resize_vm`); shrinking is refused by Proxmox.
    pub async fn resize_disk(
        &self,
        node: &str,
        vmid: u32,
        disk: &str,
        size: &str,
    ) -> Result<String, Error> {
        let path = format!("nodes/{}/qemu/{vmid}/resize", seg(node));
        upid(
            self.request(Method::PUT, &path, Some(&[("disk", disk), ("size", size)]))
                .await?,
            "resize",
        )
    }
}
