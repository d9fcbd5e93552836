//! Clusters, the VM inventory the sync workers keep, direct VM assignments, per-cluster sync
//! statistics and the change counters that let polling browsers get "nothing new" cheaply.
//!
//! Assignments name a VM by `(cluster_id, vmid)`, not by the inventory row: when a VM is
//! deleted in Proxmox its row goes, but the assignment stays and shows as "missing" until an
//! admin resolves it.

use super::index;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clusters::Table)
                    .col(pk_auto(Clusters::Id))
                    .col(string_uniq(Clusters::Name))
                    .col(text(Clusters::ApiUrls))
                    .col(string_null(Clusters::Fingerprint))
                    .col(string(Clusters::AuthKind))
                    .col(string(Clusters::AuthId))
                    .col(text(Clusters::SecretEnc))
                    .col(string_null(Clusters::AdminGroup))
                    .col(string_null(Clusters::SshUser))
                    .col(text_null(Clusters::SshKeyEnc))
                    .col(text_null(Clusters::SshHostKeys))
                    .col(string(Clusters::PveRoot))
                    .col(text(Clusters::StoragePaths))
                    .col(boolean(Clusters::Enabled).default(true))
                    .col(big_integer(Clusters::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Vms::Table)
                    .col(pk_auto(Vms::Id))
                    .col(integer(Vms::ClusterId))
                    .col(integer(Vms::Vmid))
                    .col(string(Vms::Node))
                    .col(string(Vms::Kind))
                    .col(string(Vms::Name))
                    .col(string(Vms::Status))
                    .col(boolean(Vms::Template))
                    .col(integer(Vms::Cpus))
                    .col(big_integer(Vms::MaxMem))
                    .col(big_integer(Vms::MaxDisk))
                    .col(big_integer_null(Vms::StartedAt))
                    .col(string_null(Vms::Lock))
                    .col(string_null(Vms::OsType))
                    .col(text_null(Vms::Macs))
                    .col(string_null(Vms::Ip))
                    .col(string_null(Vms::IpSource))
                    .col(big_integer_null(Vms::IpCheckedAt))
                    .col(string_null(Vms::ConfigDigest))
                    .col(boolean(Vms::NeedsDetail).default(true))
                    .col(string_null(Vms::PendingAction))
                    .col(big_integer_null(Vms::PendingSince))
                    .col(string_null(Vms::TaskUpid))
                    .col(text_null(Vms::TaskError))
                    .col(big_integer(Vms::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Vms::Table, Vms::ClusterId)
                            .to(Clusters::Table, Clusters::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "vms_cluster_vmid",
            Vms::Table,
            &[Vms::ClusterId, Vms::Vmid],
            true,
        )
        .await?;
        index(manager, "vms_name", Vms::Table, &[Vms::Name], false).await?;
        manager
            .create_table(
                Table::create()
                    .table(Assignments::Table)
                    .col(pk_auto(Assignments::Id))
                    .col(integer(Assignments::UserId))
                    .col(integer(Assignments::ClusterId))
                    .col(integer(Assignments::Vmid))
                    .col(big_integer(Assignments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assignments::Table, Assignments::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assignments::Table, Assignments::ClusterId)
                            .to(Clusters::Table, Clusters::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "assignments_user_vm",
            Assignments::Table,
            &[
                Assignments::UserId,
                Assignments::ClusterId,
                Assignments::Vmid,
            ],
            true,
        )
        .await?;
        index(
            manager,
            "assignments_vm",
            Assignments::Table,
            &[Assignments::ClusterId, Assignments::Vmid],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(SyncStatus::Table)
                    .col(integer(SyncStatus::ClusterId).primary_key())
                    .col(big_integer_null(SyncStatus::QuickAt))
                    .col(big_integer(SyncStatus::QuickMs).default(0))
                    .col(big_integer_null(SyncStatus::FullAt))
                    .col(big_integer(SyncStatus::FullMs).default(0))
                    .col(big_integer(SyncStatus::FullCalls).default(0))
                    .col(big_integer(SyncStatus::CallsTotal).default(0))
                    .col(integer(SyncStatus::Guests).default(0))
                    .col(text_null(SyncStatus::LastError))
                    .col(big_integer_null(SyncStatus::ErrorAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SyncStatus::Table, SyncStatus::ClusterId)
                            .to(Clusters::Table, Clusters::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChangeCounters::Table)
                    .col(string(ChangeCounters::Key).primary_key())
                    .col(big_integer(ChangeCounters::Value))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ChangeCounters::Table.into_iden(),
            SyncStatus::Table.into_iden(),
            Assignments::Table.into_iden(),
            Vms::Table.into_iden(),
            Clusters::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Clusters {
    Table,
    Id,
    Name,
    ApiUrls,
    Fingerprint,
    AuthKind,
    AuthId,
    SecretEnc,
    AdminGroup,
    SshUser,
    SshKeyEnc,
    SshHostKeys,
    PveRoot,
    StoragePaths,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Vms {
    Table,
    Id,
    ClusterId,
    Vmid,
    Node,
    Kind,
    Name,
    Status,
    Template,
    Cpus,
    MaxMem,
    MaxDisk,
    StartedAt,
    Lock,
    OsType,
    Macs,
    Ip,
    IpSource,
    IpCheckedAt,
    ConfigDigest,
    NeedsDetail,
    PendingAction,
    PendingSince,
    TaskUpid,
    TaskError,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Assignments {
    Table,
    Id,
    UserId,
    ClusterId,
    Vmid,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SyncStatus {
    Table,
    ClusterId,
    QuickAt,
    QuickMs,
    FullAt,
    FullMs,
    FullCalls,
    CallsTotal,
    Guests,
    LastError,
    ErrorAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ChangeCounters {
    Table,
    Key,
    Value,
}
