//! `sync_status`: one row per cluster, what the last quick and full sync did.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_status")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub cluster_id: i32,
    pub quick_at: Option<i64>,
    pub quick_ms: i64,
    pub full_at: Option<i64>,
    pub full_ms: i64,
    /// Proxmox calls the last full sync made.
    pub full_calls: i64,
    /// Proxmox calls since the portal started.
    pub calls_total: i64,
    pub guests: i32,
    pub last_error: Option<String>,
    pub error_at: Option<i64>,
    /// When the ISO lists were last read (`sync::isos`); `None`: read at the next full sync.
    pub isos_read_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
