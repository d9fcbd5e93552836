//! Waiting lists (`lab::waitlist`): a student who opens the invite of a full class is queued
//! (`waitlist`, one row per class and student, in `id` order) and gets the next student VM
//! that becomes free or is added.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Waitlist::Table)
                    .col(pk_auto(Waitlist::Id))
                    .col(integer(Waitlist::ClassId))
                    .col(integer(Waitlist::UserId))
                    .col(big_integer(Waitlist::CreatedAt))
                    .to_owned(),
            )
            .await?;
        super::index(
            manager,
            "waitlist_class_user",
            Waitlist::Table,
            &[Waitlist::ClassId, Waitlist::UserId],
            true,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Waitlist::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Waitlist {
    Table,
    Id,
    ClassId,
    UserId,
    CreatedAt,
}
