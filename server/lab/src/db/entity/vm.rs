//! `vms`: the inventory of every guest on every cluster, kept by the sync workers. Pages read
//! only this table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vms")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub cluster_id: i32,
    pub vmid: i32,
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: String,
    pub name: String,
    /// `running`, `stopped` or `unknown` (node unreachable, or no data yet).
    pub status: String,
    pub template: bool,
    pub cpus: i32,
    pub max_mem: i64,
    pub max_disk: i64,
    /// Unix seconds when it started (from Proxmox's uptime). Stored instead of the uptime so
    /// that a running VM's row does not change at every sync.
    pub started_at: Option<i64>,
    pub lock: Option<String>,
    pub os_type: Option<String>,
    /// Lower-case MACs, comma-separated, in `netN` order.
    pub macs: Option<String>,
    pub ip: Option<String>,
    /// Where the IP came from: `agent`, `lxc`, `neighbour`.
    pub ip_source: Option<String>,
    /// When the full sync last asked for an IP.
    pub ip_checked_at: Option<i64>,
    pub config_digest: Option<String>,
    /// The full sync should read this guest's config/IP on its next run.
    pub needs_detail: bool,
    /// An action the portal asked for and the sync has not confirmed yet.
    pub pending_action: Option<String>,
    pub pending_since: Option<i64>,
    pub task_upid: Option<String>,
    /// Proxmox's message when the last task failed.
    pub task_error: Option<String>,
    pub updated_at: i64,
    /// The optional RDP check found port 3389 answering; `None` = not checked for this IP.
    pub rdp_open: Option<bool>,
    /// `BIOS`, `UEFI` or `UEFI + TPM`, from the config (read by the full sync).
    pub firmware: Option<String>,
    /// Storage of the first data disk, from the config.
    pub disk_storage: Option<String>,
    /// The ISO in its CD drive (`local:iso/x.iso`); `None`: no CD drive or empty.
    pub cdrom: Option<String>,
    /// Its network cards as `net0:virtio:vmbr0,net1:e1000:vmbr1` (`model::Nic`), from the
    /// full sync's config read.
    pub nics: Option<String>,
    /// Its Proxmox pool, from `/cluster/resources` (quick sync).
    pub pool: Option<String>,
    /// Its tags as Proxmox keeps them (`lab;web`), from `/cluster/resources` (quick sync).
    pub tags: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
