//! `class_vms`: one row per VM of a class, written (as intent) before anything is made on a
//! node. `step` is the durable progress: `queued` → (`exporting`, for the base and the
//! teacher's VM while the template is exported) → `creating` → `ready`, or `failed` with
//! `error`, or `cancelled`. `ready` and the VM's `disks` are written in one UPDATE.

use crate::model::{VmRole, VmStep};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "class_vms")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub class_id: i32,
    pub cluster_id: i32,
    pub vmid: i32,
    pub role: VmRole,
    pub name: String,
    pub node: String,
    pub step: VmStep,
    pub error: Option<String>,
    pub attempts: i32,
    /// MACs chosen at planning time, one per NIC, comma-separated (a retried step reuses them).
    pub macs: String,
    /// The VM's volids after creation, comma-separated.
    pub disks: String,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
