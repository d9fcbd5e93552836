//! The ISO library: the ISO images of every cluster's ISO storages (read by the full sync,
//! `sync::isos`), downloads that Proxmox does for the portal (`download-url`), and deleting.
//!
//! Who: admins on every cluster; teachers on the clusters whose settings let them
//! (`teachers_build`); students never (`access::buildable_clusters`). Anyone else asking
//! about a cluster gets "not found".
//!
//! A download is Proxmox's own task (it fetches the file, checks the checksum and renames it
//! into place); the portal records the UPID in `iso_transfers` as soon as Proxmox answers and
//! follows the task ([`transfer::follow`]) for its progress and end. The record is written
//! after Proxmox accepted: a portal that dies between the two loses only the record (the file
//! still arrives and the next list shows it). A portal restarted while a download runs picks
//! the record up again at the next full sync ([`transfer::check_running`]).

mod page;
mod transfer;

pub use page::page;
pub use transfer::{UploadPlan, check_running, delete, download, follow, plan_upload, upload};

use crate::db::entity::sync_status;
use crate::{Result, Services};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Asks for the ISO lists of every cluster `user` may manage to be read again now.
pub async fn refresh_for(services: &Services, user: &crate::db::entity::user::Model) -> Result<()> {
    for cluster in crate::access::buildable_clusters(services, user).await? {
        refresh(services, cluster.id).await?;
    }
    Ok(())
}

/// Asks for the ISO lists of `cluster_id` to be read at the next full sync, and wakes the
/// sync.
pub(crate) async fn refresh(services: &Services, cluster_id: i32) -> Result<()> {
    sync_status::Entity::update_many()
        .col_expr(sync_status::Column::IsosReadAt, Expr::value(None::<i64>))
        .filter(sync_status::Column::ClusterId.eq(cluster_id))
        .exec(&services.db)
        .await?;
    services.sync.wake();
    Ok(())
}
