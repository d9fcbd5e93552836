//! `classes`: a teacher's class and its block of VMIDs `vmid_base..vmid_base+99`
//! (`+0` teacher, `+1..=+98` students, `+99` class base).

use crate::model::DeployMethod;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "classes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub description: String,
    pub cluster_id: i32,
    pub owner_id: i32,
    /// `None`: a class of empty VMs (no template).
    pub template_vmid: Option<i32>,
    pub template_node: Option<String>,
    pub vmid_base: i32,
    /// Student VMs requested.
    pub students: i32,
    pub cores: Option<i32>,
    pub memory_mb: Option<i32>,
    pub disk_gb: Option<i32>,
    pub pinned_node: Option<String>,
    pub storage: String,
    /// `None` when the invite was revoked.
    pub invite_token: Option<String>,
    /// `None`: the invite never expires.
    pub invite_expires_at: Option<i64>,
    /// `deploying`, `ready`, `failed`, `cancelled`, `deleting`.
    pub state: String,
    /// Files of the template export (one per data disk), newline-separated, for clean-up.
    pub export_paths: String,
    pub created_at: i64,
    /// Its students may SSH to their VMs through the portal (`console::ssh`).
    pub ssh_enabled: bool,
    /// How its VMs are made (chosen by the review step).
    pub method: DeployMethod,
    /// Its `model::ClassPolicy` as JSON; `None`: the site's defaults.
    pub policy: Option<String>,
    /// Snapshots a student may keep on their VM (0: none; teachers are not limited).
    pub student_snapshots: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
