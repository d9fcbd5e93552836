//! `vms.pool` and `vms.tags`: a guest's Proxmox pool and tags, from `/cluster/resources` (the
//! quick sync reads them already, at no extra call). Adoption suggests by them: a VM in a
//! class's pool that the class does not have, a VM tagged or pooled after a user.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [Vms::Pool, Vms::Tags] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Vms::Table)
                        .add_column(string_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Vms::Pool, Vms::Tags] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Vms::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Vms {
    Table,
    Pool,
    Tags,
}
