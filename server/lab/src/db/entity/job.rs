//! `jobs`: deployment work (deploy, reset, publish, delete) for the runner. A runner claims a
//! job by taking its lease (`lease_owner`, `lease_until`) in one UPDATE; a job whose lease ran
//! out (its runner died) is claimed again and resumed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub class_id: i32,
    /// `deploy`, `reset`, `publish`, `delete`.
    pub kind: String,
    /// The one VM a `reset` is about.
    pub vmid: Option<i32>,
    /// `queued`, `running`, `done`, `failed`, `cancelling`, `cancelled`.
    pub state: String,
    pub error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    /// Node commands (SSH or local) the job ran.
    pub commands: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
