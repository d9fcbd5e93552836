//! `cluster_isos`: one ISO image of one ISO storage (`sync::isos`). A shared storage's files
//! are stored once, with the node they were read through.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cluster_isos")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub cluster_id: i32,
    pub node: String,
    pub storage: String,
    pub shared: bool,
    /// `local:iso/debian-12.7.0-amd64-netinst.iso`.
    pub volid: String,
    pub size: i64,
    pub ctime: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
