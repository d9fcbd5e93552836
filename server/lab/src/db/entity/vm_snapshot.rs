//! `vm_snapshots`: a class VM's snapshots as Proxmox last listed them (`lab::snapshots`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vm_snapshots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub cluster_id: i32,
    pub vmid: i32,
    pub name: String,
    pub description: String,
    /// Proxmox's `snaptime` (Unix seconds).
    pub taken_at: i64,
    /// RAM was saved with it: rolling back resumes the VM where it was.
    pub vmstate: bool,
    /// The snapshot before it.
    pub parent: Option<String>,
    /// The VM's present state descends from it (the config's `parent`).
    pub current: bool,
    /// Who took it through the portal (`users.id`).
    pub taken_by: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
