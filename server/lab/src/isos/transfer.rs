//! Downloads (Proxmox's `download-url` task) and uploads (a file the portal received, sent on
//! to Proxmox's `upload`; its `imgcopy` task), each followed to its end, and deletes.

use crate::clock::now;
use crate::db::entity::{cluster_iso, cluster_node, cluster_storage, iso_transfer, user};
use crate::model::{
    IsoDownloadForm, IsoTransferView, TransferState, check_checksum, check_iso_url, iso_filename,
    upload_filename, wget_percent,
};
use crate::pve::IsoDownload;
use crate::{Error, Result, Services, clusters};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::time::Duration;

/// How often a running download is asked about.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);
/// A delete is one unlink; Proxmox ends it within seconds.
const DELETE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where an ISO goes: the target's storage, and the node that does the work (for a shared
/// storage, the first online node that has it).
#[derive(Debug)]
struct Target {
    cluster_id: i32,
    node: String,
    storage: String,
}

/// Reads `cluster_id/node/storage` and checks it against the storages the sync saw.
async fn target(services: &Services, user: &user::Model, value: &str) -> Result<Target> {
    let unknown = || Error::Invalid("Choose a storage from the list.".into());
    let mut parts = value.splitn(3, '/');
    let (Some(id), Some(node), Some(storage)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unknown());
    };
    let cluster_id: i32 = id.parse().map_err(|_| unknown())?;
    let cluster = crate::access::buildable_cluster(services, user, cluster_id).await?;
    let mut query = cluster_storage::Entity::find()
        .filter(cluster_storage::Column::ClusterId.eq(cluster.id))
        .filter(cluster_storage::Column::Storage.eq(storage))
        .filter(cluster_storage::Column::Active.eq(true));
    if !node.is_empty() {
        query = query.filter(cluster_storage::Column::Node.eq(node));
    }
    let seen = query.all(&services.db).await?;
    let isos = seen
        .iter()
        .filter(|s| s.holds("iso"))
        .filter(|s| s.shared == node.is_empty())
        .map(|s| s.node.clone())
        .collect::<Vec<_>>();
    let online = cluster_node::Entity::find()
        .filter(cluster_node::Column::ClusterId.eq(cluster.id))
        .filter(cluster_node::Column::Online.eq(true))
        .order_by_asc(cluster_node::Column::Node)
        .all(&services.db)
        .await?;
    let node = online
        .into_iter()
        .map(|n| n.node)
        .find(|n| isos.contains(n))
        .ok_or_else(|| {
            if isos.is_empty() {
                unknown()
            } else {
                Error::Unavailable("The node of that storage is offline.".into())
            }
        })?;
    Ok(Target {
        cluster_id: cluster.id,
        node,
        storage: storage.to_string(),
    })
}

/// Whether the list has `filename` on the target's storage.
async fn exists(services: &Services, target: &Target, filename: &str) -> Result<bool> {
    Ok(cluster_iso::Entity::find()
        .filter(cluster_iso::Column::ClusterId.eq(target.cluster_id))
        .filter(cluster_iso::Column::Storage.eq(&target.storage))
        .filter(cluster_iso::Column::Volid.eq(format!("{}:iso/{filename}", target.storage)))
        .one(&services.db)
        .await?
        .is_some())
}

/// Asks Proxmox to download an ISO, records the transfer and starts following it.
pub async fn download(
    services: &Services,
    user: &user::Model,
    form: &IsoDownloadForm,
) -> Result<IsoTransferView> {
    let url = check_iso_url(&form.url).map_err(Error::Invalid)?;
    let filename = iso_filename(&form.filename, &url).map_err(Error::Invalid)?;
    let checksum = check_checksum(&form.checksum).map_err(Error::Invalid)?;
    let target = target(services, user, &form.target).await?;
    if exists(services, &target, &filename).await? && checksum.is_none() {
        return Err(Error::Conflict(format!(
            "{filename} is already on {}. Delete it first, or give another name.",
            target.storage
        )));
    }
    let cluster = clusters::find(services, target.cluster_id).await?;
    let client = clusters::client(services, &cluster)?;
    let request = IsoDownload {
        url: &url,
        filename: &filename,
        checksum: checksum.as_ref().map(|(a, h)| (*a, h.as_str())),
    };
    let upid = client
        .download_iso(&target.node, &target.storage, &request)
        .await?;
    record(services, user, &cluster.name, target, filename, url, upid).await
}

/// What an upload was checked for before its file is read: where it goes, its name and its
/// checksum.
#[derive(Debug)]
pub struct UploadPlan {
    target: Target,
    pub filename: String,
    checksum: Option<(&'static str, String)>,
}

/// Checks an upload before its file is read (the browser sends the fields first): the
/// target, the name (`name` if given, else the file's own name made safe, as Proxmox
/// would), the checksum, and that no ISO of that name is there (Proxmox would overwrite it
/// under the VMs that use it).
pub async fn plan_upload(
    services: &Services,
    user: &user::Model,
    target_value: &str,
    name: &str,
    file_name: &str,
    checksum: &str,
) -> Result<UploadPlan> {
    let filename = upload_filename(name, file_name).map_err(Error::Invalid)?;
    let checksum = check_checksum(checksum).map_err(Error::Invalid)?;
    let target = target(services, user, target_value).await?;
    if exists(services, &target, &filename).await? {
        return Err(Error::Conflict(format!(
            "{filename} is already on {}. Delete it first, or give another name.",
            target.storage
        )));
    }
    Ok(UploadPlan {
        target,
        filename,
        checksum,
    })
}

/// Sends a received file (`len` bytes) to Proxmox, records the transfer and starts
/// following its `imgcopy` task. Who may was checked by [`plan_upload`]; it is checked
/// again here, as the file took a while to arrive.
pub async fn upload(
    services: &Services,
    user: &user::Model,
    plan: UploadPlan,
    file: tokio::fs::File,
    len: u64,
) -> Result<IsoTransferView> {
    let cluster = crate::access::buildable_cluster(services, user, plan.target.cluster_id).await?;
    let client = clusters::client(services, &cluster)?;
    let request = crate::pve::IsoUpload {
        filename: &plan.filename,
        checksum: plan.checksum.as_ref().map(|(a, h)| (*a, h.as_str())),
        file,
        len,
    };
    let upid = client
        .upload_iso(&plan.target.node, &plan.target.storage, request)
        .await?;
    // An upload has no URL: the view says where it came from.
    record(
        services,
        user,
        &cluster.name,
        plan.target,
        plan.filename,
        String::new(),
        upid,
    )
    .await
}

/// Records a transfer whose task Proxmox started and starts following it.
async fn record(
    services: &Services,
    user: &user::Model,
    cluster: &str,
    target: Target,
    filename: String,
    url: String,
    upid: String,
) -> Result<IsoTransferView> {
    // Crash point: Proxmox works on; without this row the portal only loses the record.
    let row = iso_transfer::ActiveModel {
        cluster_id: Set(target.cluster_id),
        node: Set(target.node),
        storage: Set(target.storage),
        filename: Set(filename),
        url: Set(url),
        upid: Set(upid),
        state: Set(TransferState::Running),
        percent: Set(None),
        message: Set(None),
        requested_by: Set(Some(user.id)),
        created_at: Set(now()),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(&services.db)
    .await?;
    tracing::info!(
        %cluster, storage = %row.storage, file = %row.filename, upload = row.url.is_empty(),
        user = %user.username, "ISO transfer started"
    );
    follow(services, row.id);
    Ok(IsoTransferView {
        id: row.id,
        cluster: cluster.to_string(),
        node: row.node,
        storage: row.storage,
        filename: row.filename,
        url: row.url,
        state: row.state,
        percent: row.percent,
        message: row.message,
        created_at: row.created_at,
        finished_at: row.finished_at,
    })
}

/// Follows transfer `id` until its task ends (or the portal shuts down), on the services'
/// task tracker.
pub fn follow(services: &Services, id: i32) {
    let services = services.clone();
    services.tasks.clone().spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(FOLLOW_EVERY) => {}
                () = services.shutdown.cancelled() => return,
            }
            match check(&services, id).await {
                Ok(true) => return,
                Ok(false) => {}
                // The cluster is away for a moment: ask again (the full sync also does).
                Err(e) => tracing::debug!(transfer = id, error = %e, "ISO download: no answer"),
            }
        }
    });
}

/// Looks at every running transfer of `cluster_id` once (the full sync calls this, so a
/// transfer whose follower died with its portal still ends).
pub async fn check_running(services: &Services, cluster_id: i32) -> Result<()> {
    let running = iso_transfer::Entity::find()
        .filter(iso_transfer::Column::ClusterId.eq(cluster_id))
        .filter(iso_transfer::Column::State.eq(TransferState::Running))
        .all(&services.db)
        .await?;
    for t in running {
        check(services, t.id).await?;
    }
    Ok(())
}

/// Reads the transfer's task once; returns whether it has ended.
async fn check(services: &Services, id: i32) -> Result<bool> {
    let Some(row) = iso_transfer::Entity::find_by_id(id)
        .one(&services.db)
        .await?
    else {
        return Ok(true);
    };
    if row.state != TransferState::Running {
        return Ok(true);
    }
    let cluster = clusters::find(services, row.cluster_id).await?;
    let client = clusters::client(services, &cluster)?;
    let status = client.task_status(&row.node, &row.upid).await?;
    let Some(ok) = status.succeeded() else {
        let last = client
            .task_log_tail(&row.node, &row.upid, 1)
            .await
            .ok()
            .and_then(|mut lines| lines.pop());
        let percent = last.as_deref().and_then(wget_percent).or(row.percent);
        if percent != row.percent || last != row.message {
            let mut update: iso_transfer::ActiveModel = row.into();
            update.percent = Set(percent);
            update.message = Set(last);
            update.update(&services.db).await?;
        }
        return Ok(false);
    };
    let message = (!ok).then(|| status.exitstatus.clone().unwrap_or_default());
    // Only a running row is ended, so two followers (or a follower and the sync) end it once.
    let ended = iso_transfer::Entity::update_many()
        .col_expr(
            iso_transfer::Column::State,
            sea_orm::sea_query::Expr::value(if ok {
                TransferState::Done
            } else {
                TransferState::Failed
            }),
        )
        .col_expr(
            iso_transfer::Column::Percent,
            sea_orm::sea_query::Expr::value(if ok { Some(100) } else { row.percent }),
        )
        .col_expr(
            iso_transfer::Column::Message,
            sea_orm::sea_query::Expr::value(message.clone()),
        )
        .col_expr(
            iso_transfer::Column::FinishedAt,
            sea_orm::sea_query::Expr::value(Some(now())),
        )
        .filter(iso_transfer::Column::Id.eq(id))
        .filter(iso_transfer::Column::State.eq(TransferState::Running))
        .exec(&services.db)
        .await?;
    if ended.rows_affected > 0 {
        tracing::info!(
            cluster = %cluster.name, file = %row.filename, ok, error = ?message,
            "ISO transfer ended"
        );
        super::refresh(services, row.cluster_id).await?;
    }
    Ok(true)
}

/// Deletes an ISO (waits for Proxmox's task) and drops it from the list. Like Proxmox, it
/// does not look for VMs with the ISO in a CD drive: they keep the reference and fail to
/// start until the drive is emptied.
pub async fn delete(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    volid: &str,
    node: Option<&str>,
) -> Result<()> {
    let cluster = crate::access::buildable_cluster(services, user, cluster_id).await?;
    let mut query = cluster_iso::Entity::find()
        .filter(cluster_iso::Column::ClusterId.eq(cluster.id))
        .filter(cluster_iso::Column::Volid.eq(volid));
    if let Some(node) = node {
        query = query.filter(cluster_iso::Column::Node.eq(node));
    }
    let row = query
        .one(&services.db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("ISO {}", crate::model::iso_file_name(volid))))?;
    let client = clusters::client(services, &cluster)?;
    let upid = client
        .delete_volume(&row.node, &row.storage, &row.volid)
        .await?;
    let status = client.wait_task(&row.node, &upid, DELETE_TIMEOUT).await?;
    if status.succeeded() != Some(true) {
        return Err(Error::Proxmox(status.exitstatus.unwrap_or_default()));
    }
    cluster_iso::Entity::delete_by_id(row.id)
        .exec(&services.db)
        .await?;
    tracing::info!(
        cluster = %cluster.name, volid = %row.volid, user = %user.username, "ISO deleted"
    );
    Ok(())
}
