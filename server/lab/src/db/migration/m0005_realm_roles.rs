//! Realm roles and SSH addresses per cluster.
//!
//! * `clusters.teacher_group`, `clusters.student_group`: Proxmox groups whose members sign in
//!   as teachers or students. With `admin_group` they map every realm user to a role
//!   explicitly; a realm user in none of them is refused. An empty `admin_group` used to mean
//!   "anyone who can log in to the cluster is an admin"; from this migration on it means "only
//!   `root@pam` is an admin" (no data changes: the rule lives in `auth::realm`).
//! * `clusters.vm_subnets`: the CIDRs (one per line) that SSH through the portal may dial. Empty
//!   (the default) means SSH through the portal is off for that cluster.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Clusters::TeacherGroup, Clusters::StudentGroup] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Clusters::Table)
                        .add_column(string_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Clusters::Table)
                    .add_column(text(Clusters::VmSubnets).default(""))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Clusters::TeacherGroup,
            Clusters::StudentGroup,
            Clusters::VmSubnets,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Clusters::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Clusters {
    Table,
    TeacherGroup,
    StudentGroup,
    VmSubnets,
}
