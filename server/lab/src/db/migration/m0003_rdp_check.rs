//! `vms.rdp_open`: whether the optional RDP port check found port 3389 answering (NULL = not
//! checked since the IP was learnt).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Vms::Table)
                    .add_column(boolean_null(Vms::RdpOpen))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Vms::Table)
                    .drop_column(Vms::RdpOpen)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Vms {
    Table,
    RdpOpen,
}
