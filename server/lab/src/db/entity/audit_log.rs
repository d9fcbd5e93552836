//! `audit_log`: every security- or money-relevant act (`lab::audit`). Rows are only added,
//! and removed by age (the retention setting).

use crate::model::{AuditAction, AuditOutcome};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: i64,
    /// The account that acted, if one did (and still exists: the name below stays).
    pub actor_id: Option<i32>,
    /// Its username then, or `policy worker` / `command line`.
    pub actor: String,
    pub action: AuditAction,
    /// What was acted on, in words.
    pub object: String,
    /// The class it concerns, for its teachers' view.
    pub class_id: Option<i32>,
    pub cluster_id: Option<i32>,
    pub vmid: Option<i32>,
    /// The client's address (the proxy's last hop when behind one).
    pub addr: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
