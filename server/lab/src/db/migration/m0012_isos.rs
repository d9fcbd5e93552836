//! The ISO library (`lab::isos`):
//!
//! * `cluster_isos`: the ISO images of each ISO storage, read by the full sync
//!   (`sync::isos`); a shared storage's files once, a node-local one's per node.
//! * `iso_transfers`: downloads Proxmox does for the portal (`download-url`), followed
//!   through their task until they end, so the library shows them with their progress
//!   across portal restarts.
//! * `sync_status.isos_read_at`: when the lists were read (again every ten minutes, or at
//!   once after a transfer or delete, or when someone asks).
//! * `clusters.teachers_build`: whether teachers may manage ISOs (and build VMs) on the
//!   cluster; admins always may.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClusterIsos::Table)
                    .col(pk_auto(ClusterIsos::Id))
                    .col(integer(ClusterIsos::ClusterId))
                    .col(string(ClusterIsos::Node))
                    .col(string(ClusterIsos::Storage))
                    .col(boolean(ClusterIsos::Shared))
                    .col(string(ClusterIsos::Volid))
                    .col(big_integer(ClusterIsos::Size))
                    .col(big_integer(ClusterIsos::Ctime))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "cluster_isos_cluster",
            ClusterIsos::Table,
            &[ClusterIsos::ClusterId],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(IsoTransfers::Table)
                    .col(pk_auto(IsoTransfers::Id))
                    .col(integer(IsoTransfers::ClusterId))
                    .col(string(IsoTransfers::Node))
                    .col(string(IsoTransfers::Storage))
                    .col(string(IsoTransfers::Filename))
                    .col(string(IsoTransfers::Url))
                    .col(string(IsoTransfers::Upid))
                    .col(string(IsoTransfers::State))
                    .col(integer_null(IsoTransfers::Percent))
                    .col(string_null(IsoTransfers::Message))
                    .col(integer_null(IsoTransfers::RequestedBy))
                    .col(big_integer(IsoTransfers::CreatedAt))
                    .col(big_integer_null(IsoTransfers::FinishedAt))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "iso_transfers_state",
            IsoTransfers::Table,
            &[IsoTransfers::State],
            false,
        )
        .await?;
        // SQLite takes one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(SyncStatus::Table)
                    .add_column(big_integer_null(SyncStatus::IsosReadAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Clusters::Table)
                    .add_column(boolean(Clusters::TeachersBuild).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clusters::Table)
                    .drop_column(Clusters::TeachersBuild)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SyncStatus::Table)
                    .drop_column(SyncStatus::IsosReadAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(IsoTransfers::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ClusterIsos::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ClusterIsos {
    Table,
    Id,
    ClusterId,
    Node,
    Storage,
    Shared,
    Volid,
    Size,
    Ctime,
}

#[derive(DeriveIden, Clone, Copy)]
enum IsoTransfers {
    Table,
    Id,
    ClusterId,
    Node,
    Storage,
    Filename,
    Url,
    Upid,
    State,
    Percent,
    Message,
    RequestedBy,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SyncStatus {
    Table,
    IsosReadAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Clusters {
    Table,
    TeachersBuild,
}
