//! Classes and their deployment: a class owns a block of 100 VMIDs, its VMs are rows with a
//! deployment step each (the durable progress the UI shows and a restarted runner resumes),
//! and jobs are the units of work the runner claims with a lease.
//!
//! Also `clusters.ssh_port` (node SSH on a port other than 22).

use super::index;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clusters::Table)
                    .add_column(integer(Clusters::SshPort).default(22))
                    .to_owned(),
            )
            .await?;
        // What the class wizard shows of a template without asking Proxmox.
        for column in [Vms::Firmware, Vms::DiskStorage] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Vms::Table)
                        .add_column(string_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Classes::Table)
                    .col(pk_auto(Classes::Id))
                    .col(string(Classes::Name))
                    .col(text(Classes::Description))
                    .col(integer(Classes::ClusterId))
                    .col(integer(Classes::OwnerId))
                    .col(integer_null(Classes::TemplateVmid))
                    .col(string_null(Classes::TemplateNode))
                    .col(integer(Classes::VmidBase))
                    .col(integer(Classes::Students))
                    .col(integer_null(Classes::Cores))
                    .col(integer_null(Classes::MemoryMb))
                    .col(integer_null(Classes::DiskGb))
                    .col(string_null(Classes::PinnedNode))
                    .col(string(Classes::Storage))
                    .col(string_null(Classes::InviteToken))
                    .col(big_integer_null(Classes::InviteExpiresAt))
                    .col(string(Classes::State))
                    .col(text(Classes::ExportPaths))
                    .col(big_integer(Classes::CreatedAt))
                    .col(boolean(Classes::SshEnabled).default(false))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Classes::Table, Classes::ClusterId)
                            .to(Clusters::Table, Clusters::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Classes::Table, Classes::OwnerId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "classes_block",
            Classes::Table,
            &[Classes::ClusterId, Classes::VmidBase],
            true,
        )
        .await?;
        index(
            manager,
            "classes_invite",
            Classes::Table,
            &[Classes::InviteToken],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClassOwners::Table)
                    .col(integer(ClassOwners::ClassId))
                    .col(integer(ClassOwners::UserId))
                    .primary_key(
                        Index::create()
                            .col(ClassOwners::ClassId)
                            .col(ClassOwners::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClassOwners::Table, ClassOwners::ClassId)
                            .to(Classes::Table, Classes::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClassVms::Table)
                    .col(pk_auto(ClassVms::Id))
                    .col(integer(ClassVms::ClassId))
                    .col(integer(ClassVms::ClusterId))
                    .col(integer(ClassVms::Vmid))
                    .col(string(ClassVms::Role))
                    .col(string(ClassVms::Name))
                    .col(string(ClassVms::Node))
                    .col(string(ClassVms::Step))
                    .col(text_null(ClassVms::Error))
                    .col(integer(ClassVms::Attempts).default(0))
                    .col(text(ClassVms::Macs))
                    .col(text(ClassVms::Disks))
                    .col(big_integer_null(ClassVms::StartedAt))
                    .col(big_integer_null(ClassVms::FinishedAt))
                    .col(big_integer(ClassVms::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClassVms::Table, ClassVms::ClassId)
                            .to(Classes::Table, Classes::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "class_vms_vmid",
            ClassVms::Table,
            &[ClassVms::ClusterId, ClassVms::Vmid],
            true,
        )
        .await?;
        index(
            manager,
            "class_vms_class",
            ClassVms::Table,
            &[ClassVms::ClassId],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(pk_auto(Jobs::Id))
                    .col(integer(Jobs::ClassId))
                    .col(string(Jobs::Kind))
                    .col(integer_null(Jobs::Vmid))
                    .col(string(Jobs::State))
                    .col(text_null(Jobs::Error))
                    .col(string_null(Jobs::LeaseOwner))
                    .col(big_integer_null(Jobs::LeaseUntil))
                    .col(big_integer(Jobs::Commands).default(0))
                    .col(big_integer(Jobs::CreatedAt))
                    .col(big_integer_null(Jobs::FinishedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "jobs_state", Jobs::Table, &[Jobs::State], false).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Jobs::Table.into_iden(),
            ClassVms::Table.into_iden(),
            ClassOwners::Table.into_iden(),
            Classes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        for column in [Vms::Firmware, Vms::DiskStorage] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Vms::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Clusters::Table)
                    .drop_column(Clusters::SshPort)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Clusters {
    Table,
    Id,
    SshPort,
}

#[derive(DeriveIden, Clone, Copy)]
enum Vms {
    Table,
    Firmware,
    DiskStorage,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Classes {
    Table,
    Id,
    Name,
    Description,
    ClusterId,
    OwnerId,
    TemplateVmid,
    TemplateNode,
    VmidBase,
    Students,
    Cores,
    MemoryMb,
    DiskGb,
    PinnedNode,
    Storage,
    InviteToken,
    InviteExpiresAt,
    State,
    ExportPaths,
    CreatedAt,
    SshEnabled,
}

#[derive(DeriveIden)]
enum ClassOwners {
    Table,
    ClassId,
    UserId,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClassVms {
    Table,
    Id,
    ClassId,
    ClusterId,
    Vmid,
    Role,
    Name,
    Node,
    Step,
    Error,
    Attempts,
    Macs,
    Disks,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Jobs {
    Table,
    Id,
    ClassId,
    Kind,
    Vmid,
    State,
    Error,
    LeaseOwner,
    LeaseUntil,
    Commands,
    CreatedAt,
    FinishedAt,
}
