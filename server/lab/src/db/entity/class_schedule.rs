//! `class_schedules`: start or stop a class's student VMs at a local time in the class's
//! zone, on weekdays (`days`, bit 0 = Monday) or once (`days` 0, on `date`). `last_fired_at`
//! is the last occurrence that ran (or was skipped), so each occurrence runs at most once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "class_schedules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub class_id: i32,
    /// `start` or `shutdown` (`model::PolicyAction`).
    pub action: String,
    pub days: i32,
    /// `YYYY-MM-DD` of a one-off.
    pub date: Option<String>,
    /// Minutes after local midnight.
    pub time_min: i32,
    pub last_fired_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
