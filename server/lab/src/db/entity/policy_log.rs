//! `policy_log`: every warning and automatic act of the policy worker and its `power` jobs:
//! what, on which VM, why, when and how it went.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "policy_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub class_id: i32,
    pub cluster_id: i32,
    pub vmid: Option<i32>,
    /// The VM's student, if it has one.
    pub user_id: Option<i32>,
    /// `warn`, `start`, `shutdown`, `hibernate`, `refused`, `failed`, `still-here`, `skipped`.
    pub action: String,
    /// `model::PolicyReason`'s word.
    pub reason: String,
    pub at: i64,
    /// Proxmox's task error, the refused start's message, the schedule.
    pub detail: Option<String>,
    pub job_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
