//! `iso_transfers`: a download Proxmox does for the portal, followed through its task
//! (`lab::isos::follow`).

use crate::model::TransferState;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "iso_transfers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub cluster_id: i32,
    pub node: String,
    pub storage: String,
    pub filename: String,
    pub url: String,
    pub upid: String,
    pub state: TransferState,
    /// From the task log's last progress line.
    pub percent: Option<i32>,
    /// The task's last log line while it runs; its error when it failed.
    pub message: Option<String>,
    pub requested_by: Option<i32>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
