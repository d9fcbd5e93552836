//! `vm_policies`: what the policy worker knows about one class VM between ticks, so that
//! another instance (or this one after a restart) goes on where it stopped.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vm_policies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub cluster_id: i32,
    pub vmid: i32,
    pub class_id: i32,
    /// The last time the VM was seen busy, open in a portal tab, started, or the student said
    /// "I'm still here". Idle time counts from here.
    pub active_at: i64,
    /// The last time the VM's student had it open in a console, terminal or SSH tab.
    pub connected_at: Option<i64>,
    /// The warning shown to the student (`model::PolicyReason`), if any.
    pub warn_reason: Option<String>,
    /// `shutdown` or `hibernate`.
    pub warn_action: Option<String>,
    /// When the portal acts if nothing changes.
    pub due_at: Option<i64>,
    /// When the portal queued its last action on this VM (not again for a while).
    pub acted_at: Option<i64>,
    /// The boot (`vms.started_at`) a schedule started: not counted toward quota until the
    /// student connects.
    pub schedule_boot: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
