//! `cluster_nodes`: a node of a cluster as the last full sync saw it (`sync::nodes`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cluster_nodes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub cluster_id: i32,
    pub node: String,
    pub online: bool,
    /// CPU use, 0.0 to 1.0 of all its cores.
    pub cpu: f64,
    pub maxcpu: i32,
    pub mem: i64,
    pub maxmem: i64,
    pub uptime: i64,
    /// `8.4.1`, from `GET /nodes/{node}/status`.
    pub pve_version: Option<String>,
    /// When the version was last read (again after an hour).
    pub version_read_at: Option<i64>,
    pub updated_at: i64,
    /// The node's bridges, comma separated (read with the version), for the VM builder.
    pub bridges: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The node's bridges (`bridges` keeps them comma separated).
    pub fn bridge_list(&self) -> Vec<String> {
        self.bridges
            .split(',')
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect()
    }
}
