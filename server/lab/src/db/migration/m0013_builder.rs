//! The VM builder (`lab::builder`):
//!
//! * `cluster_nodes.bridges`: each node's bridges (comma separated), read hourly with the
//!   node's version (`sync::nodes`), for the bridge picker;
//! * `vms.cdrom`: the ISO in a VM's CD drive (from its config, by the full sync), for the
//!   hardware page's CD line;
//! * `vms.nics`: its network cards (`net0:virtio:vmbr0,…`, by the full sync), for the
//!   hardware page's network section.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ClusterNodes::Table)
                    .add_column(string(ClusterNodes::Bridges).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Vms::Table)
                    .add_column(string_null(Vms::Cdrom))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Vms::Table)
                    .add_column(string_null(Vms::Nics))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Vms::Table)
                    .drop_column(Vms::Cdrom)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Vms::Table)
                    .drop_column(Vms::Nics)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ClusterNodes::Table)
                    .drop_column(ClusterNodes::Bridges)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ClusterNodes {
    Table,
    Bridges,
}

#[derive(DeriveIden, Clone, Copy)]
enum Vms {
    Table,
    Cdrom,
    Nics,
}
