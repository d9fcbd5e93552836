//! `cluster_storages`: a storage as one node sees it, with its use (`sync::nodes`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cluster_storages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub cluster_id: i32,
    pub node: String,
    pub storage: String,
    /// The plugin: `dir`, `lvmthin`, `zfspool`, `rbd`, `nfs`, …
    pub plugin: String,
    /// Comma-separated content types.
    pub content: String,
    pub shared: bool,
    /// Active on the node (Proxmox's `status: available`).
    pub active: bool,
    pub used: i64,
    pub total: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Whether the storage holds `content` (`iso`, `images`, …).
    pub fn holds(&self, content: &str) -> bool {
        self.content.split(',').any(|c| c.trim() == content)
    }
}
