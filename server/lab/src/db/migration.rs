//! Migrations as code, run at start-up and by `proxlab migrate`. Each one must run on SQLite
//! and PostgreSQL alike (the tests run them on both).

mod m0001_accounts;
mod m0002_inventory;
mod m0003_rdp_check;
mod m0004_classes;
mod m0005_realm_roles;
mod m0006_job_engine;
mod m0007_deploy_method;
mod m0008_policies;
mod m0009_snapshots;
mod m0010_nodes;
mod m0011_waitlist;
mod m0012_isos;
mod m0013_builder;
mod m0014_vm_pool_tags;
mod m0015_audit;

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_accounts::Migration),
            Box::new(m0002_inventory::Migration),
            Box::new(m0003_rdp_check::Migration),
            Box::new(m0004_classes::Migration),
            Box::new(m0005_realm_roles::Migration),
            Box::new(m0006_job_engine::Migration),
            Box::new(m0007_deploy_method::Migration),
            Box::new(m0008_policies::Migration),
            Box::new(m0009_snapshots::Migration),
            Box::new(m0010_nodes::Migration),
            Box::new(m0011_waitlist::Migration),
            Box::new(m0012_isos::Migration),
            Box::new(m0013_builder::Migration),
            Box::new(m0014_vm_pool_tags::Migration),
            Box::new(m0015_audit::Migration),
        ]
    }
}

/// Creates an index on `cols` of `table` (shared by the migrations).
pub(super) async fn index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[T],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(*col);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}
