//! `clusters`: Proxmox VE clusters the portal manages. Secrets are stored encrypted
//! (`crate::secrets`), never in clear text.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clusters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub name: String,
    /// One base URL per line (`https://host:8006`), tried in order.
    pub api_urls: String,
    /// SHA-256 of the API certificate, `AA:BB:…`; `None` = the system's CA roots.
    pub fingerprint: Option<String>,
    /// `token` or `password`.
    pub auth_kind: String,
    /// `user@realm!tokenid` or `user@realm`.
    pub auth_id: String,
    /// The token secret or password, sealed.
    pub secret_enc: String,
    /// Proxmox group whose members sign in as portal admins (realm logins); `None` = only
    /// `root@pam` is an admin.
    pub admin_group: Option<String>,
    /// Proxmox group whose members sign in as teachers; `None` = nobody by group.
    pub teacher_group: Option<String>,
    /// Proxmox group whose members sign in as students; `None` = nobody by group.
    pub student_group: Option<String>,
    /// CIDRs (one per line) that SSH through the portal may connect to; empty = SSH off.
    pub vm_subnets: String,
    pub ssh_user: Option<String>,
    /// The private key, sealed.
    pub ssh_key_enc: Option<String>,
    /// Pinned host keys, `known_hosts` lines.
    pub ssh_host_keys: Option<String>,
    /// Where pmxcfs is mounted (`/etc/pve`).
    pub pve_root: String,
    /// `storage=path` per line, e.g. `local=/var/lib/vz`.
    pub storage_paths: String,
    pub ssh_port: i32,
    pub enabled: bool,
    pub created_at: i64,
    /// Teachers may manage ISOs and build VMs on this cluster (admins always may).
    pub teachers_build: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
