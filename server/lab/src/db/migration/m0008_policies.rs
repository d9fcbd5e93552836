//! Lab policies (`lab::policies`):
//!
//! * `classes.policy`: the class's `model::ClassPolicy` as JSON; NULL = the site's defaults.
//! * `jobs.detail`: a `power` job's order (action, reason, VMIDs) as JSON.
//! * `class_schedules`: start or stop a class's student VMs at a local time, weekly or once;
//!   `last_fired_at` is the occurrence (not the moment it ran), so an occurrence runs once.
//! * `vm_policies`: per VM, when it was last active, its warning (reason, action, due), when
//!   the portal acted, and the boot a schedule started (not counted toward quota until the
//!   student connects).
//! * `usage_intervals`: the runs of each student VM (`seen_at` moves while it runs), the log
//!   quota hours are counted from; `usage_totals`: per student and class, the counted seconds
//!   of closed runs since the last reset (kept with each close, in its transaction, so a tick
//!   never sums the history), hours a teacher added, and when usage was last reset.
//! * `policy_log`: every automatic act and warning, for teachers and admins.
//! * `worker_leases`: which instance acts for a named worker (`policy:<cluster>`), until when.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Classes::Table)
                    .add_column(text_null(Classes::Policy))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(text_null(Jobs::Detail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClassSchedules::Table)
                    .col(pk_auto(ClassSchedules::Id))
                    .col(integer(ClassSchedules::ClassId))
                    .col(string(ClassSchedules::Action))
                    .col(integer(ClassSchedules::Days))
                    .col(string_null(ClassSchedules::Date))
                    .col(integer(ClassSchedules::TimeMin))
                    .col(big_integer_null(ClassSchedules::LastFiredAt))
                    .col(big_integer(ClassSchedules::CreatedAt))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "class_schedules_class",
            ClassSchedules::Table,
            &[ClassSchedules::ClassId],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(VmPolicies::Table)
                    .col(pk_auto(VmPolicies::Id))
                    .col(integer(VmPolicies::ClusterId))
                    .col(integer(VmPolicies::Vmid))
                    .col(integer(VmPolicies::ClassId))
                    .col(big_integer(VmPolicies::ActiveAt))
                    .col(big_integer_null(VmPolicies::ConnectedAt))
                    .col(string_null(VmPolicies::WarnReason))
                    .col(string_null(VmPolicies::WarnAction))
                    .col(big_integer_null(VmPolicies::DueAt))
                    .col(big_integer_null(VmPolicies::ActedAt))
                    .col(big_integer_null(VmPolicies::ScheduleBoot))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "vm_policies_vm",
            VmPolicies::Table,
            &[VmPolicies::ClusterId, VmPolicies::Vmid],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageIntervals::Table)
                    .col(pk_auto(UsageIntervals::Id))
                    .col(integer(UsageIntervals::ClassId))
                    .col(integer(UsageIntervals::UserId))
                    .col(integer(UsageIntervals::ClusterId))
                    .col(integer(UsageIntervals::Vmid))
                    .col(big_integer(UsageIntervals::StartedAt))
                    .col(big_integer(UsageIntervals::SeenAt))
                    .col(big_integer_null(UsageIntervals::EndedAt))
                    .col(boolean(UsageIntervals::Counted))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "usage_intervals_student",
            UsageIntervals::Table,
            &[UsageIntervals::ClassId, UsageIntervals::UserId],
            false,
        )
        .await?;
        super::index(
            manager,
            "usage_intervals_open",
            UsageIntervals::Table,
            &[UsageIntervals::ClusterId, UsageIntervals::EndedAt],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageTotals::Table)
                    .col(pk_auto(UsageTotals::Id))
                    .col(integer(UsageTotals::ClassId))
                    .col(integer(UsageTotals::UserId))
                    .col(big_integer(UsageTotals::ClosedSecs).default(0))
                    .col(big_integer(UsageTotals::ExtraSecs).default(0))
                    .col(big_integer_null(UsageTotals::ResetAt))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "usage_totals_student",
            UsageTotals::Table,
            &[UsageTotals::ClassId, UsageTotals::UserId],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(PolicyLog::Table)
                    .col(pk_auto(PolicyLog::Id))
                    .col(integer(PolicyLog::ClassId))
                    .col(integer(PolicyLog::ClusterId))
                    .col(integer_null(PolicyLog::Vmid))
                    .col(integer_null(PolicyLog::UserId))
                    .col(string(PolicyLog::Action))
                    .col(string(PolicyLog::Reason))
                    .col(big_integer(PolicyLog::At))
                    .col(text_null(PolicyLog::Detail))
                    .col(integer_null(PolicyLog::JobId))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "policy_log_class",
            PolicyLog::Table,
            &[PolicyLog::ClassId, PolicyLog::At],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(WorkerLeases::Table)
                    .col(string(WorkerLeases::Name).primary_key())
                    .col(string(WorkerLeases::Owner))
                    .col(big_integer(WorkerLeases::Until))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ClassSchedules::Table.into_iden(),
            VmPolicies::Table.into_iden(),
            UsageIntervals::Table.into_iden(),
            UsageTotals::Table.into_iden(),
            PolicyLog::Table.into_iden(),
            WorkerLeases::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::Detail)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Classes::Table)
                    .drop_column(Classes::Policy)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Classes {
    Table,
    Policy,
}

#[derive(DeriveIden, Clone, Copy)]
enum Jobs {
    Table,
    Detail,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClassSchedules {
    Table,
    Id,
    ClassId,
    Action,
    Days,
    Date,
    TimeMin,
    LastFiredAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum VmPolicies {
    Table,
    Id,
    ClusterId,
    Vmid,
    ClassId,
    ActiveAt,
    ConnectedAt,
    WarnReason,
    WarnAction,
    DueAt,
    ActedAt,
    ScheduleBoot,
}

#[derive(DeriveIden, Clone, Copy)]
enum UsageIntervals {
    Table,
    Id,
    ClassId,
    UserId,
    ClusterId,
    Vmid,
    StartedAt,
    SeenAt,
    EndedAt,
    Counted,
}

#[derive(DeriveIden, Clone, Copy)]
enum UsageTotals {
    Table,
    Id,
    ClassId,
    UserId,
    ClosedSecs,
    ExtraSecs,
    ResetAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PolicyLog {
    Table,
    Id,
    ClassId,
    ClusterId,
    Vmid,
    UserId,
    Action,
    Reason,
    At,
    Detail,
    JobId,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkerLeases {
    Table,
    Name,
    Owner,
    Until,
}
