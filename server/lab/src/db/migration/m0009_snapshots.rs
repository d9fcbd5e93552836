//! Snapshots (`lab::snapshots`):
//!
//! * `classes.student_snapshots`: how many snapshots a student may keep on their VM
//!   (0: students may not take any; teachers always may).
//! * `vm_snapshots`: the snapshots of each class VM as Proxmox last listed them, so the
//!   snapshot page reads the database only. A snapshot job rewrites a VM's rows from
//!   Proxmox's list when it ends; `current` marks the one the VM's state descends from
//!   (the config's `parent`), `taken_by` who took it through the portal.

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
                    .add_column(integer(Classes::StudentSnapshots).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(VmSnapshots::Table)
                    .col(pk_auto(VmSnapshots::Id))
                    .col(integer(VmSnapshots::ClusterId))
                    .col(integer(VmSnapshots::Vmid))
                    .col(string(VmSnapshots::Name))
                    .col(text(VmSnapshots::Description))
                    .col(big_integer(VmSnapshots::TakenAt))
                    .col(boolean(VmSnapshots::Vmstate))
                    .col(string_null(VmSnapshots::Parent))
                    .col(boolean(VmSnapshots::Current))
                    .col(integer_null(VmSnapshots::TakenBy))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "vm_snapshots_vm_name",
            VmSnapshots::Table,
            &[VmSnapshots::ClusterId, VmSnapshots::Vmid, VmSnapshots::Name],
            true,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(VmSnapshots::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Classes::Table)
                    .drop_column(Classes::StudentSnapshots)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Classes {
    Table,
    StudentSnapshots,
}

#[derive(DeriveIden, Clone, Copy)]
enum VmSnapshots {
    Table,
    Id,
    ClusterId,
    Vmid,
    Name,
    Description,
    TakenAt,
    Vmstate,
    Parent,
    Current,
    TakenBy,
}
