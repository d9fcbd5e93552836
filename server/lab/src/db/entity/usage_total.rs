//! `usage_totals`: per student and class, the counted seconds of closed runs since the last
//! reset (added in the transaction that closes a run, so a policy tick never sums the whole
//! history), hours a teacher added to the quota, and when usage was last reset (runs before
//! it no longer count; they stay in `usage_intervals` as the log).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_totals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub class_id: i32,
    pub user_id: i32,
    pub closed_secs: i64,
    pub extra_secs: i64,
    pub reset_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
