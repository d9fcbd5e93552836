//! `jobs`: the durable work of the job engine (`lab::jobs`). A runner claims a job by taking
//! its lease (`lease_owner`, `lease_until`) and bumping `fence` in one UPDATE; every later
//! write of that runner names the owner and the fence in its WHERE clause, so a runner that
//! lost the lease (it stalled, another took over) changes nothing more.

use crate::model::{JobKind, JobState};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub class_id: i32,
    pub kind: JobKind,
    /// The one VM a `reset` or `remove` is about.
    pub vmid: Option<i32>,
    pub state: JobState,
    pub error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    /// Bumped at every claim: the fencing token of the current lease.
    pub fence: i64,
    /// Higher is claimed first (`JobKind::priority`).
    pub priority: i32,
    /// How many times a runner claimed it (more than one: it was resumed).
    pub attempts: i32,
    /// Who asked for it (`users.id`), when a person did.
    pub requested_by: Option<i32>,
    /// Node commands (SSH or local) the job ran.
    pub commands: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// A `power` job's order (`jobs::kinds::power::Order`) as JSON.
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
