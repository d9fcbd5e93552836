//! The audit log (`lab::audit`): one row per security- or money-relevant act, who did it,
//! to what, from where and how it went. Read newest first (the primary key), by class (a
//! teacher's view) and by time (pruning).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_integer(AuditLog::Id).auto_increment().primary_key())
                    .col(big_integer(AuditLog::At))
                    .col(integer_null(AuditLog::ActorId))
                    .col(string(AuditLog::Actor))
                    .col(string(AuditLog::Action))
                    .col(string(AuditLog::Object))
                    .col(integer_null(AuditLog::ClassId))
                    .col(integer_null(AuditLog::ClusterId))
                    .col(integer_null(AuditLog::Vmid))
                    .col(string_null(AuditLog::Addr))
                    .col(string(AuditLog::Outcome))
                    .col(string_null(AuditLog::Detail))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "audit_log_at",
            AuditLog::Table,
            &[AuditLog::At],
            false,
        )
        .await?;
        super::index(
            manager,
            "audit_log_class",
            AuditLog::Table,
            &[AuditLog::ClassId, AuditLog::Id],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorId,
    Actor,
    Action,
    Object,
    ClassId,
    ClusterId,
    Vmid,
    Addr,
    Outcome,
    Detail,
}
