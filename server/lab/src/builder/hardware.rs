//! A built VM's hardware, for the person who may build on its cluster and has the VM (an
//! admin: any VM outside a class): cores and memory, growing the system disk, the CD drive
//! (insert an ISO the node can read, eject), and turning it into a template for classes.
//! Class VMs are left to their class (its respec and reset keep them alike).
//!
//! The page reads the inventory (cores, memory, disk size, the CD's ISO from the full
//! sync); each change is one Proxmox call on a fresh config (the disk and CD keys are read
//! from it, not guessed), then the row is marked for the full sync to read again.

use crate::db::entity::{assignment, class_vm, cluster, cluster_node, user, vm};
use crate::model::{
    BUILD_CORES, BUILD_MEMORY_MIB, HardwareView, MAX_NICS, NIC_MODELS, Nic, Role, check_in_range,
};
use crate::pve::GuestKind;
use crate::{Error, Result, Services, clusters};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::time::Duration;

/// Resizing or templating a big disk on slow storage takes a while.
const TASK_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The most a disk grows at once (GiB).
pub const MAX_GROW_GIB: u32 = 1024;

/// The VM, if `user` may change its hardware; else "not found".
pub(crate) async fn editable(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<(cluster::Model, vm::Model)> {
    let not_found = || Error::NotFound(format!("VM {vmid}"));
    let cluster = crate::access::buildable_cluster(services, user, cluster_id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => not_found(),
            other => other,
        })?;
    let row = vm::Entity::find()
        .filter(vm::Column::ClusterId.eq(cluster_id))
        .filter(vm::Column::Vmid.eq(vmid))
        .filter(vm::Column::Kind.eq("qemu"))
        .one(&services.db)
        .await?
        .ok_or_else(not_found)?;
    let in_class = class_vm::Entity::find()
        .filter(class_vm::Column::ClusterId.eq(cluster_id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .count(&services.db)
        .await?
        > 0;
    let has_it = crate::access::role(user) == Role::Admin
        || assignment::Entity::find()
            .filter(assignment::Column::UserId.eq(user.id))
            .filter(assignment::Column::ClusterId.eq(cluster_id))
            .filter(assignment::Column::Vmid.eq(vmid))
            .count(&services.db)
            .await?
            > 0;
    if in_class || !has_it || row.template {
        return Err(not_found());
    }
    Ok((cluster, row))
}

/// The hardware page: from the inventory, with the ISOs the VM's node can read.
pub async fn view(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<HardwareView> {
    let (cluster, row) = editable(services, user, cluster_id, vmid).await?;
    let isos = super::readable_isos(services, cluster_id, &row.node).await?;
    let bridges = node_bridges(services, cluster_id, &row.node).await?;
    Ok(HardwareView {
        cluster_id,
        cluster: cluster.name,
        vmid,
        name: row.name,
        node: row.node,
        running: row.status == "running",
        cores: row.cpus,
        memory_mib: row.max_mem / (1024 * 1024),
        disk_gib: row.max_disk / (1024 * 1024 * 1024),
        cdrom: row.cdrom,
        isos,
        nics: row.nics.as_deref().map(Nic::parse_list).unwrap_or_default(),
        bridges,
    })
}

/// After a change: the inventory at once (a quick sync: cores, memory, disk size; the CD as
/// set, when it was), and the full sync reads the config again.
async fn refresh(
    services: &Services,
    cluster: &cluster::Model,
    vmid: i32,
    cdrom: Option<Option<&str>>,
) -> Result<()> {
    if let Err(e) = crate::sync::quick::run(services, cluster).await {
        tracing::warn!(cluster = %cluster.name, error = %e, "quick sync after a hardware change");
    }
    let mut update = vm::Entity::update_many()
        .col_expr(vm::Column::NeedsDetail, Expr::value(true))
        .filter(vm::Column::ClusterId.eq(cluster.id))
        .filter(vm::Column::Vmid.eq(vmid));
    if let Some(cd) = cdrom {
        update = update.col_expr(vm::Column::Cdrom, Expr::value(cd.map(str::to_owned)));
    }
    update.exec(&services.db).await?;
    services.sync.wake();
    Ok(())
}

/// Cores and memory (applied at once when stopped, at the next start when running, as
/// Proxmox decides).
pub async fn set_size(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    cores: &str,
    memory_mib: &str,
) -> Result<()> {
    let cores = check_in_range(cores, &BUILD_CORES, "Cores").map_err(Error::Invalid)?;
    let memory =
        check_in_range(memory_mib, &BUILD_MEMORY_MIB, "Memory (MiB)").map_err(Error::Invalid)?;
    let (cluster, row) = editable(services, user, cluster_id, vmid).await?;
    let client = clusters::client(services, &cluster)?;
    let (cores, memory) = (cores.to_string(), memory.to_string());
    client
        .set_config(
            &row.node,
            vmid as u32,
            &[("cores", &cores), ("memory", &memory)],
        )
        .await?;
    refresh(services, &cluster, vmid, None).await
}

/// Grows the first disk by `add_gib`.
pub async fn grow_disk(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    add_gib: &str,
) -> Result<()> {
    let add =
        check_in_range(add_gib, &(1..=MAX_GROW_GIB), "Added size (GiB)").map_err(Error::Invalid)?;
    let (cluster, row) = editable(services, user, cluster_id, vmid).await?;
    let client = clusters::client(services, &cluster)?;
    let config = fresh_config(&client, &row).await?;
    let disk = crate::sync::full::first_disk_key(&config)
        .ok_or_else(|| Error::Invalid("This VM has no disk to grow.".into()))?;
    let upid = client
        .resize_disk(&row.node, vmid as u32, &disk, &format!("+{add}G"))
        .await?;
    let status = client.wait_task(&row.node, &upid, TASK_TIMEOUT).await?;
    if status.succeeded() != Some(true) {
        return Err(Error::Proxmox(status.exitstatus.unwrap_or_default()));
    }
    refresh(services, &cluster, vmid, None).await
}

/// Puts an ISO the node can read in the CD drive (`None`: ejects). A VM without a CD drive
/// gets one (`ide2`).
pub async fn set_cd(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    iso: Option<&str>,
) -> Result<()> {
    let (cluster, row) = editable(services, user, cluster_id, vmid).await?;
    if let Some(volid) = iso {
        let reachable = super::readable_isos(services, cluster_id, &row.node)
            .await?
            .iter()
            .any(|(v, _)| v == volid);
        if !reachable {
            return Err(Error::Invalid(format!(
                "Choose an ISO that {} can read.",
                row.node
            )));
        }
    }
    let client = clusters::client(services, &cluster)?;
    let config = fresh_config(&client, &row).await?;
    let key = crate::sync::full::first_cdrom(&config)
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| "ide2".to_string());
    let value = format!("{},media=cdrom", iso.unwrap_or("none"));
    client
        .set_config(&row.node, vmid as u32, &[(&key, &value)])
        .await?;
    refresh(services, &cluster, vmid, Some(iso)).await
}

/// The VM's config as Proxmox has it now (keys are read from it, never guessed).
async fn fresh_config(
    client: &crate::pve::Client,
    row: &vm::Model,
) -> Result<crate::pve::GuestConfig> {
    Ok(client
        .guest_config(&row.node, GuestKind::Qemu, row.vmid as u32)
        .await?)
}

/// The bridges of `node`, as the sync last read them.
async fn node_bridges(services: &Services, cluster_id: i32, node: &str) -> Result<Vec<String>> {
    Ok(cluster_node::Entity::find()
        .filter(cluster_node::Column::ClusterId.eq(cluster_id))
        .filter(cluster_node::Column::Node.eq(node))
        .one(&services.db)
        .await?
        .map(|n| n.bridge_list())
        .unwrap_or_default())
}

/// Adds a network card (`key` empty: the lowest free `netN`; Proxmox gives it a MAC) or
/// changes one's model and bridge, keeping its MAC and other options. The bridge must be one
/// of the node's; a running VM takes the change at once (Proxmox hot-plugs NICs).
pub async fn set_nic(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    key: &str,
    model: &str,
    bridge: &str,
) -> Result<()> {
    if !NIC_MODELS.iter().any(|(m, _)| *m == model) {
        return Err(Error::Invalid(
            "Choose a network card model from the list.".into(),
        ));
    }
    let (cluster, row) = editable(services, user, cluster_id, vmid).await?;
    if !node_bridges(services, cluster_id, &row.node)
        .await?
        .iter()
        .any(|b| b == bridge)
    {
        return Err(Error::Invalid(format!(
            "Choose a bridge of {} from the list.",
            row.node
        )));
    }
    let client = clusters::client(services, &cluster)?;
    let config = fresh_config(&client, &row).await?;
    let nics = crate::sync::full::nics_of(&config);
    let (key, value) = if key.is_empty() {
        if nics.len() >= MAX_NICS {
            return Err(Error::Invalid(format!(
                "A VM here has at most {MAX_NICS} network cards."
            )));
        }
        let free = (0..)
            .map(|n| format!("net{n}"))
            .find(|k| !nics.iter().any(|n| &n.key == k))
            .unwrap_or_default();
        (free, format!("{model},bridge={bridge}"))
    } else {
        let old = config
            .entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|_| nics.iter().any(|n| n.key == key))
            .ok_or_else(|| Error::NotFound(format!("Network card {key}")))?;
        (key.to_string(), nic_value(&old, model, bridge))
    };
    client
        .set_config(&row.node, vmid as u32, &[(&key, &value)])
        .await?;
    tracing::info!(cluster = %cluster.name, vmid, nic = %key, %bridge, user = %user.username, "NIC set");
    refresh_nics(services, &cluster, &row, vmid).await
}

/// Removes a network card.
pub async fn remove_nic(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
    key: &str,
) -> Result<()> {
    let (cluster, row) = editable(services, user, cluster_id, vmid).await?;
    let client = clusters::client(services, &cluster)?;
    let config = fresh_config(&client, &row).await?;
    if !crate::sync::full::nics_of(&config)
        .iter()
        .any(|n| n.key == key)
    {
        return Err(Error::NotFound(format!("Network card {key}")));
    }
    client
        .set_config(&row.node, vmid as u32, &[("delete", key)])
        .await?;
    tracing::info!(cluster = %cluster.name, vmid, nic = %key, user = %user.username, "NIC removed");
    refresh_nics(services, &cluster, &row, vmid).await
}

/// `virtio=BC:24:11:…,bridge=vmbr0,firewall=1` with another model and bridge: the MAC and
/// the other options stay.
fn nic_value(old: &str, model: &str, bridge: &str) -> String {
    let mut parts: Vec<String> = old.split(',').map(str::to_owned).collect();
    if let Some(first) = parts.first_mut() {
        *first = match first.split_once('=') {
            Some((_, mac)) => format!("{model}={mac}"),
            None => model.to_string(),
        };
    }
    match parts.iter_mut().find(|p| p.starts_with("bridge=")) {
        Some(b) => *b = format!("bridge={bridge}"),
        None => parts.push(format!("bridge={bridge}")),
    }
    parts.join(",")
}

/// The NICs in the inventory at once (from a fresh config), then the usual refresh.
async fn refresh_nics(
    services: &Services,
    cluster: &cluster::Model,
    row: &vm::Model,
    vmid: i32,
) -> Result<()> {
    let client = clusters::client(services, cluster)?;
    let config = fresh_config(&client, row).await?;
    let nics = Nic::list_text(&crate::sync::full::nics_of(&config));
    vm::Entity::update_many()
        .col_expr(vm::Column::Nics, Expr::value(Some(nics)))
        .filter(vm::Column::ClusterId.eq(cluster.id))
        .filter(vm::Column::Vmid.eq(vmid))
        .exec(&services.db)
        .await?;
    refresh(services, cluster, vmid, None).await
}

/// Makes the (stopped) VM a template, for classes. It leaves the hardware page (templates
/// cannot change) and appears in the class wizard.
pub async fn make_template(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<()> {
    let (cluster, row) = editable(services, user, cluster_id, vmid).await?;
    if row.status != "stopped" {
        return Err(Error::Conflict(
            "Shut the VM down first: only a stopped VM becomes a template.".into(),
        ));
    }
    let client = clusters::client(services, &cluster)?;
    let upid = client.make_template(&row.node, vmid as u32).await?;
    let status = client.wait_task(&row.node, &upid, TASK_TIMEOUT).await?;
    if status.succeeded() != Some(true) {
        return Err(Error::Proxmox(status.exitstatus.unwrap_or_default()));
    }
    refresh(services, &cluster, vmid, None).await?;
    tracing::info!(cluster = %cluster.name, vmid, user = %user.username, "VM made a template");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::nic_value;

    #[test]
    fn a_changed_nic_keeps_its_mac_and_options() {
        assert_eq!(
            nic_value(
                "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1",
                "e1000",
                "vmbr1"
            ),
            "e1000=BC:24:11:00:00:01,bridge=vmbr1,firewall=1"
        );
        assert_eq!(
            nic_value("virtio", "virtio", "vmbr2"),
            "virtio,bridge=vmbr2"
        );
    }
}
