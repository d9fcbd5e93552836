//! The admin's node view (`lab::capacity`), written by the full sync (`sync::nodes`):
//!
//! * `cluster_nodes`: each node's state and figures from `GET /nodes`, and its Proxmox
//!   version from `GET /nodes/{node}/status` (read again at most hourly).
//! * `cluster_storages`: each storage as each node sees it, with its use, from one
//!   `GET /cluster/resources?type=storage`.
//! * `cluster_groups`: the cluster's Proxmox groups (`GET /access/groups`, hourly with the
//!   versions), offered in the cluster form's group fields.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClusterNodes::Table)
                    .col(pk_auto(ClusterNodes::Id))
                    .col(integer(ClusterNodes::ClusterId))
                    .col(string(ClusterNodes::Node))
                    .col(boolean(ClusterNodes::Online))
                    .col(double(ClusterNodes::Cpu))
                    .col(integer(ClusterNodes::Maxcpu))
                    .col(big_integer(ClusterNodes::Mem))
                    .col(big_integer(ClusterNodes::Maxmem))
                    .col(big_integer(ClusterNodes::Uptime))
                    .col(string_null(ClusterNodes::PveVersion))
                    .col(big_integer_null(ClusterNodes::VersionReadAt))
                    .col(big_integer(ClusterNodes::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "cluster_nodes_node",
            ClusterNodes::Table,
            &[ClusterNodes::ClusterId, ClusterNodes::Node],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClusterStorages::Table)
                    .col(pk_auto(ClusterStorages::Id))
                    .col(integer(ClusterStorages::ClusterId))
                    .col(string(ClusterStorages::Node))
                    .col(string(ClusterStorages::Storage))
                    .col(string(ClusterStorages::Plugin))
                    .col(string(ClusterStorages::Content))
                    .col(boolean(ClusterStorages::Shared))
                    .col(boolean(ClusterStorages::Active))
                    .col(big_integer(ClusterStorages::Used))
                    .col(big_integer(ClusterStorages::Total))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "cluster_storages_node_storage",
            ClusterStorages::Table,
            &[
                ClusterStorages::ClusterId,
                ClusterStorages::Node,
                ClusterStorages::Storage,
            ],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClusterGroups::Table)
                    .col(pk_auto(ClusterGroups::Id))
                    .col(integer(ClusterGroups::ClusterId))
                    .col(string(ClusterGroups::Groupid))
                    .col(string(ClusterGroups::Comment))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "cluster_groups_group",
            ClusterGroups::Table,
            &[ClusterGroups::ClusterId, ClusterGroups::Groupid],
            true,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ClusterNodes::Table.into_iden(),
            ClusterStorages::Table.into_iden(),
            ClusterGroups::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ClusterNodes {
    Table,
    Id,
    ClusterId,
    Node,
    Online,
    Cpu,
    Maxcpu,
    Mem,
    Maxmem,
    Uptime,
    PveVersion,
    VersionReadAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClusterStorages {
    Table,
    Id,
    ClusterId,
    Node,
    Storage,
    Plugin,
    Content,
    Shared,
    Active,
    Used,
    Total,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClusterGroups {
    Table,
    Id,
    ClusterId,
    Groupid,
    Comment,
}
