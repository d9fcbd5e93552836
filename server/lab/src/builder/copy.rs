//! A full copy of a template as a new VM to change (and make a template again): how a
//! teacher updates next term's base without touching the one classes hang off. Proxmox's
//! `POST …/clone` with `full=1`, on the template's node and storage; the copy is the
//! person's once the task ends (the same order and crash point as a build, see the parent
//! module).

use super::{TASK_TIMEOUT, assign_and_show};
use crate::db::entity::user;
use crate::model::{BuiltVm, check_vm_name};
use crate::pve::CloneSpec;
use crate::{Error, Result, Services, clusters};

/// Copies template `template` (`cluster_id/vmid`, one the person is offered in the class
/// wizard, on a cluster they may build on) into a new VM called `name`.
pub async fn copy_template(
    services: &Services,
    user: &user::Model,
    template: &str,
    name: &str,
) -> Result<BuiltVm> {
    let name = check_vm_name(name).map_err(Error::Invalid)?;
    let pick = || Error::Invalid("Choose a template from the list.".into());
    let (cid, vmid) = template.split_once('/').ok_or_else(pick)?;
    let (cluster_id, vmid): (i32, i32) = (
        cid.parse().map_err(|_| pick())?,
        vmid.parse().map_err(|_| pick())?,
    );
    let source = super::copyable(services, user)
        .await?
        .into_iter()
        .find(|t| t.cluster_id == cluster_id && t.vmid == vmid)
        .ok_or_else(pick)?;
    let cluster = clusters::find(services, cluster_id).await?;
    let client = clusters::client(services, &cluster)?;
    let newid = client.next_vmid().await?;
    let description = format!(
        "Copied in Proxlab for {} from template {} ({})",
        user.username, source.vmid, source.name
    );
    let spec = CloneSpec {
        newid,
        name: &name,
        description: &description,
        target: &source.node,
        full: true,
        storage: None,
        pool: None,
    };
    let upid = client.clone_vm(&source.node, vmid as u32, &spec).await?;
    let status = client.wait_task(&source.node, &upid, TASK_TIMEOUT).await?;
    if status.succeeded() != Some(true) {
        return Err(Error::Proxmox(status.exitstatus.unwrap_or_default()));
    }
    let newid = newid as i32;
    assign_and_show(services, user, &cluster, newid).await?;
    tracing::info!(
        cluster = %cluster.name, from = vmid, vmid = newid, user = %user.username,
        "template copied"
    );
    Ok(BuiltVm {
        cluster_id,
        vmid: newid,
        name,
        node: source.node,
        started: false,
    })
}
