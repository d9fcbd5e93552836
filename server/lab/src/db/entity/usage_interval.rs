//! `usage_intervals`: one row per run of a student's VM in a class. Opened when the VM is
//! seen running (from its boot time, Proxmox's uptime), `seen_at` moved forward while it runs,
//! closed at the last time it was seen running. Quota hours are the sum of counted rows.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_intervals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub class_id: i32,
    pub user_id: i32,
    pub cluster_id: i32,
    pub vmid: i32,
    pub started_at: i64,
    pub seen_at: i64,
    pub ended_at: Option<i64>,
    /// False for a schedule's run before the student connected.
    pub counted: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
