//! Proxmox's own copies of a guest: `POST …/clone` (linked or full) and `POST …/template`,
//! both tasks, and the task log that carries a failed task's reason.
//!
//! Rules these calls meet (qemu-server `PVE/API2/Qemu.pm`, `clone_vm` and `template`):
//! the new VMID is reserved at once with a config holding only `lock: clone`, which the
//! worker replaces with the finished config (or removes with the volumes it made, on
//! failure); `storage` and `format` are refused for linked clones; a clone of a stopped
//! template takes a *shared* lock, so several clones of one base may run at once; the task's
//! UPID names the *source* VMID. Every clone gets fresh MACs, `smbios1` uuid and `vmgenid`.
//! A clone goes to another node only when every disk of the source is on shared storage
//! ("can't clone VM to node '…' (VM uses local storage)"); from node-local storage a copy
//! reaches another node by offline migration (`POST …/migrate`, `QemuMigrate.pm`: the local
//! volumes are copied with `storage_migrate`, to `targetstorage` if given; a base that linked
//! clones use, or a linked clone itself, cannot be migrated).

use super::client::{Client, seg, upid};
use super::error::Error;
use reqwest::Method;
use serde_json::Value;

/// One `POST …/qemu/{vmid}/clone`.
#[derive(Clone, Debug)]
pub struct CloneSpec<'a> {
    pub newid: u32,
    pub name: &'a str,
    /// Set at clone time, so a clone found after a crash can be recognised as ours.
    pub description: &'a str,
    /// Node the clone goes to (another node only from shared storage).
    pub target: &'a str,
    /// A full copy (else a linked clone of a template).
    pub full: bool,
    /// Where a full copy's disks go (`None`: where the source's are).
    pub storage: Option<&'a str>,
    /// The resource pool the new VM joins (`Pool.Allocate` on `/pool/{pool}` beside
    /// `VM.Allocate`).
    pub pool: Option<&'a str>,
}

impl Client {
    /// Starts a clone of QEMU guest `vmid` on `node`; returns the task's UPID.
    pub async fn clone_vm(
        &self,
        node: &str,
        vmid: u32,
        spec: &CloneSpec<'_>,
    ) -> Result<String, Error> {
        let path = format!("nodes/{}/qemu/{vmid}/clone", seg(node));
        let newid = spec.newid.to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("newid", &newid),
            ("name", spec.name),
            ("description", spec.description),
            ("target", spec.target),
            ("full", if spec.full { "1" } else { "0" }),
        ];
        if let (true, Some(s)) = (spec.full, spec.storage) {
            form.push(("storage", s));
        }
        if let Some(p) = spec.pool {
            form.push(("pool", p));
        }
        upid(
            self.request(Method::POST, &path, Some(&form)).await?,
            "clone",
        )
    }

    /// Turns stopped QEMU guest `vmid` into a template (its disks become `base-…`);
    /// returns the task's UPID.
    pub async fn make_template(&self, node: &str, vmid: u32) -> Result<String, Error> {
        let path = format!("nodes/{}/qemu/{vmid}/template", seg(node));
        upid(self.request(Method::POST, &path, None).await?, "template")
    }

    /// Starts an offline migration of stopped QEMU guest `vmid` from `node` to `target`;
    /// returns the task's UPID (it runs on `node`). Its local disks are copied to the storage
    /// of the same name on `target` (no `targetstorage`: a mapping to another storage would
    /// also need `VM.Config.Disk`, `migrate_vm`'s storage-map check).
    pub async fn migrate_vm(&self, node: &str, vmid: u32, target: &str) -> Result<String, Error> {
        let path = format!("nodes/{}/qemu/{vmid}/migrate", seg(node));
        let form = [("target", target)];
        upid(
            self.request(Method::POST, &path, Some(&form)).await?,
            "migrate",
        )
    }

    /// Creates resource pool `id` unless it exists (pve-manager `Pool.pm` `create_pool`:
    /// "pool '…' already exists" counts as done).
    pub async fn ensure_pool(&self, id: &str, comment: &str) -> Result<(), Error> {
        let form = [("poolid", id), ("comment", comment)];
        match self.request(Method::POST, "pools", Some(&form)).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("already exists") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes resource pool `id` if it is there and empty; a pool that is gone, or that
    /// holds guests someone else put there, is left as it is.
    pub async fn remove_pool(&self, id: &str) -> Result<(), Error> {
        let path = format!("pools/{}", seg(id));
        match self.request(Method::DELETE, &path, None).await {
            Ok(_) => Ok(()),
            Err(e)
                if e.to_string().contains("does not exist")
                    || e.to_string().contains("not empty") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The last `lines` lines of a task's log (`GET …/tasks/{upid}/log`), oldest first.
    pub async fn task_log_tail(
        &self,
        node: &str,
        upid: &str,
        lines: usize,
    ) -> Result<Vec<String>, Error> {
        let path = format!("nodes/{}/tasks/{}/log?limit=50000", seg(node), seg(upid));
        let data = self.request(Method::GET, &path, None).await?;
        let all: Vec<String> = match data {
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.get("t").and_then(Value::as_str))
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let skip = all.len().saturating_sub(lines);
        Ok(all.into_iter().skip(skip).collect())
    }
}
