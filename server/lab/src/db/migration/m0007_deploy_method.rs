//! `classes.method`: how the class's VMs are made (`overlay`, `linked`, `full`; see
//! `model::DeployMethod`). Classes made before it were all qcow2 overlays.

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
                    .add_column(string(Classes::Method).default("overlay"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Classes::Table)
                    .drop_column(Classes::Method)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Classes {
    Table,
    Method,
}
