//! Clusters as the admin pages see them. Secrets never appear here: only whether one is set.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    pub id: i32,
    pub name: String,
    pub api_urls: Vec<String>,
    pub fingerprint: Option<String>,
    /// `token` or `password`.
    pub auth_kind: String,
    pub auth_id: String,
    /// `None`: only `root@pam` signs in as an admin.
    pub admin_group: Option<String>,
    pub teacher_group: Option<String>,
    pub student_group: Option<String>,
    /// Where SSH through the portal may connect (CIDRs); empty: SSH through the portal is off.
    pub vm_subnets: Vec<String>,
    pub ssh_user: Option<String>,
    pub ssh_port: u16,
    pub has_ssh_key: bool,
    pub ssh_host_keys: Option<String>,
    pub pve_root: String,
    pub storage_paths: String,
    pub enabled: bool,
    /// Teachers may manage ISOs and build VMs on this cluster.
    #[serde(default)]
    pub teachers_build: bool,
    pub sync: SyncView,
    /// The cluster's Proxmox groups as the sync last read them (hourly), for the group
    /// fields' pickers.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// What the sync workers last did for a cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncView {
    pub quick_at: Option<i64>,
    pub quick_ms: i64,
    pub full_at: Option<i64>,
    pub full_ms: i64,
    pub full_calls: i64,
    pub calls_total: i64,
    pub guests: i32,
    pub last_error: Option<String>,
    pub error_at: Option<i64>,
}

/// The add/edit form. Secret fields are write-only: empty on edit means "keep".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterForm {
    pub name: String,
    /// One URL per line (or comma-separated).
    pub api_urls: String,
    pub fingerprint: String,
    /// `token` or `password`.
    pub auth_kind: String,
    pub auth_id: String,
    pub secret: String,
    /// Proxmox group whose members sign in as admins (empty: only `root@pam`).
    pub admin_group: String,
    /// Proxmox group whose members sign in as teachers (empty: none).
    #[serde(default)]
    pub teacher_group: String,
    /// Proxmox group whose members sign in as students (empty: none).
    #[serde(default)]
    pub student_group: String,
    /// CIDRs, one per line or comma-separated, that SSH through the portal may connect to.
    #[serde(default)]
    pub vm_subnets: String,
    pub ssh_user: String,
    /// Empty: 22.
    #[serde(default)]
    pub ssh_port: String,
    pub ssh_key: String,
    pub ssh_host_keys: String,
    pub pve_root: String,
    pub storage_paths: String,
    /// A checkbox: non-empty ("on") lets teachers manage ISOs and build VMs here.
    #[serde(default)]
    pub teachers_build: String,
}

/// The answer of "test connection".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterTest {
    pub version: String,
    pub nodes_online: usize,
    pub nodes_total: usize,
    pub guests: usize,
    pub millis: u64,
    /// What works but will limit a feature (a missing privilege, in words).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl ClusterForm {
    /// A form for an API token as PVE shows it once (`user@realm!tokenid=secret`, the value of
    /// `Authorization: PVEAPIToken=…`), pinned to `fingerprint`. `None` if there is no secret.
    pub fn with_token(name: &str, api_url: &str, fingerprint: &str, token: &str) -> Option<Self> {
        let (id, secret) = token.rsplit_once('=')?;
        Some(ClusterForm {
            name: name.into(),
            api_urls: api_url.into(),
            fingerprint: fingerprint.into(),
            auth_kind: "token".into(),
            auth_id: id.into(),
            secret: secret.into(),
            ..Default::default()
        })
    }
}
