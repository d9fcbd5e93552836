//! The VM builder: a new VM from an ISO, made through the Proxmox API on a node and storage
//! picked from lists the sync keeps (storages from `cluster_storages`, bridges from
//! `cluster_nodes`, ISOs from `cluster_isos`), never typed by hand. Who may: the same as
//! for ISOs (`access::buildable_clusters`).
//!
//! The VM goes to the person who built it (a direct assignment), so it is on their dashboard
//! with its console at once. Order and crash points:
//!
//! 1. everything is checked against the database (node online, storage and bridge on that
//!    node, ISO reachable from it), then Proxmox is asked for a free VMID;
//! 2. `POST /nodes/{n}/qemu` reserves that VMID and makes the VM in its task; the portal
//!    waits for the task;
//! 3. only then the assignment is written. A portal that dies between 2 and 3 leaves a VM
//!    nobody is assigned (visible to admins on the dashboard, its description naming who
//!    asked for it), never an assignment that could later point at someone else's VM.
//!
//! A VMID that someone else took between 1 and 2 makes Proxmox refuse ("already exists"):
//! the person sees that and tries again; nothing is retried behind their back, so a double
//! submit never makes two VMs from one click's VMID.

mod copy;
pub mod hardware;

pub use copy::copy_template;

use crate::clock::now;
use crate::db::entity::{assignment, cluster_iso, cluster_node, cluster_storage, user};
use crate::model::{
    BUILD_CORES, BUILD_DISK_GIB, BUILD_MEMORY_MIB, BuildIso, BuildNode, BuildPage, BuiltVm, OsKind,
    VmBuildForm, check_in_range, check_vm_name,
};
use crate::{Error, Result, Services, clusters, inventory};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::HashMap;
use std::time::Duration;

/// Creating a VM allocates its disks, a copy writes them whole; on thin storage that is
/// quick, on a plain file it can take minutes.
const TASK_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The nodes (with their storages and bridges) and ISOs `user` may build with, and the
/// templates they may copy.
pub async fn page(services: &Services, user: &user::Model) -> Result<BuildPage> {
    let (nodes, isos) = offer(services, user).await?;
    let templates = copyable(services, user)
        .await?
        .into_iter()
        .map(|t| {
            (
                format!("{}/{}", t.cluster_id, t.vmid),
                format!("{} ({}, {} on {})", t.name, t.vmid, t.cluster, t.node),
            )
        })
        .collect();
    Ok(BuildPage {
        nodes,
        isos,
        templates,
    })
}

/// The nodes (with their storages and bridges) and ISOs `user` may build with.
async fn offer(services: &Services, user: &user::Model) -> Result<(Vec<BuildNode>, Vec<BuildIso>)> {
    let clusters = crate::access::buildable_clusters(services, user).await?;
    let names: HashMap<i32, String> = clusters.iter().map(|c| (c.id, c.name.clone())).collect();
    let ids: Vec<i32> = clusters.iter().map(|c| c.id).collect();
    let nodes = cluster_node::Entity::find()
        .filter(cluster_node::Column::ClusterId.is_in(ids.clone()))
        .filter(cluster_node::Column::Online.eq(true))
        .order_by_asc(cluster_node::Column::ClusterId)
        .order_by_asc(cluster_node::Column::Node)
        .all(&services.db)
        .await?;
    let storages = cluster_storage::Entity::find()
        .filter(cluster_storage::Column::ClusterId.is_in(ids.clone()))
        .filter(cluster_storage::Column::Active.eq(true))
        .order_by_asc(cluster_storage::Column::Storage)
        .all(&services.db)
        .await?;
    let nodes = nodes
        .into_iter()
        .map(|n| BuildNode {
            cluster: names.get(&n.cluster_id).cloned().unwrap_or_default(),
            cluster_id: n.cluster_id,
            storages: storages
                .iter()
                .filter(|s| s.cluster_id == n.cluster_id && s.node == n.node)
                .filter(|s| s.holds("images"))
                .map(|s| (s.storage.clone(), (s.total - s.used).max(0)))
                .collect(),
            bridges: n.bridge_list(),
            node: n.node,
        })
        .collect();
    Ok((nodes, isos_of(services, ids).await?))
}

/// The ISOs of `clusters`, a node-local one with its node.
async fn isos_of(services: &Services, clusters: Vec<i32>) -> Result<Vec<BuildIso>> {
    Ok(cluster_iso::Entity::find()
        .filter(cluster_iso::Column::ClusterId.is_in(clusters))
        .order_by_asc(cluster_iso::Column::Volid)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|i| BuildIso {
            cluster_id: i.cluster_id,
            name: crate::model::iso_file_name(&i.volid).to_string(),
            node: (!i.shared).then_some(i.node),
            volid: i.volid,
        })
        .collect())
}

/// The ISOs `node` of `cluster_id` can read (its own storages and shared ones):
/// `(volid, file name)`. The caller has checked the person may build there.
pub(crate) async fn readable_isos(
    services: &Services,
    cluster_id: i32,
    node: &str,
) -> Result<Vec<(String, String)>> {
    Ok(isos_of(services, vec![cluster_id])
        .await?
        .into_iter()
        .filter(|i| i.node.as_deref().is_none_or(|n| n == node))
        .map(|i| (i.volid, i.name))
        .collect())
}

/// A checked form.
struct Plan {
    cluster_id: i32,
    node: String,
    name: String,
    os: OsKind,
    cores: u32,
    memory: u32,
    disk: u32,
    storage: String,
    bridge: String,
    iso: String,
    drivers: Option<String>,
    start: bool,
}

async fn plan(services: &Services, user: &user::Model, form: &VmBuildForm) -> Result<Plan> {
    let invalid = |m: String| Error::Invalid(m);
    let name = check_vm_name(&form.name).map_err(invalid)?;
    let os = OsKind::parse(form.os.trim())
        .ok_or_else(|| Error::Invalid("Choose the operating system.".into()))?;
    let cores = check_in_range(&form.cores, &BUILD_CORES, "Cores").map_err(invalid)?;
    let memory =
        check_in_range(&form.memory_mib, &BUILD_MEMORY_MIB, "Memory (MiB)").map_err(invalid)?;
    let disk = check_in_range(&form.disk_gib, &BUILD_DISK_GIB, "Disk (GiB)").map_err(invalid)?;
    let pick = || Error::Invalid("Choose a node from the list.".into());
    let (id, node) = form.target.split_once('/').ok_or_else(pick)?;
    let cluster_id: i32 = id.parse().map_err(|_| pick())?;
    // Everything below is read from what the page offers, so a hand-made request can name
    // nothing the person could not have picked.
    let (nodes, isos) = offer(services, user).await?;
    let Some(n) = nodes
        .iter()
        .find(|n| n.cluster_id == cluster_id && n.node == node)
    else {
        return Err(pick());
    };
    let storage = form.storage.trim();
    if !n.storages.iter().any(|(s, _)| s == storage) {
        return Err(Error::Invalid(format!(
            "Choose a storage for VM disks on {node}."
        )));
    }
    let bridge = form.bridge.trim();
    if !n.bridges.iter().any(|b| b == bridge) {
        return Err(Error::Invalid(format!(
            "Choose a network bridge of {node}."
        )));
    }
    let reachable = |volid: &str| {
        isos.iter().any(|i| {
            i.cluster_id == cluster_id
                && i.volid == volid
                && i.node.as_deref().is_none_or(|on| on == node)
        })
    };
    let iso = form.iso.trim();
    if !reachable(iso) {
        return Err(Error::Invalid(format!(
            "Choose an ISO that {node} can read (its own storage or a shared one)."
        )));
    }
    let drivers = match form.drivers_iso.trim() {
        "" => None,
        d if os == OsKind::Windows && reachable(d) && d != iso => Some(d.to_string()),
        _ => {
            return Err(Error::Invalid(
                "The drivers ISO must be another ISO that the node can read (Windows only).".into(),
            ));
        }
    };
    Ok(Plan {
        cluster_id,
        node: node.to_string(),
        name,
        os,
        cores,
        memory,
        disk,
        storage: storage.to_string(),
        bridge: bridge.to_string(),
        iso: iso.to_string(),
        drivers,
        start: !form.start.trim().is_empty(),
    })
}

/// The `POST /nodes/{n}/qemu` parameters of a plan (qemu-server's schema).
fn create_params(p: &Plan, vmid: u32, who: &str) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("vmid", vmid.to_string()),
        ("name", p.name.clone()),
        ("ostype", p.os.ostype().to_string()),
        ("cores", p.cores.to_string()),
        ("memory", p.memory.to_string()),
        ("scsihw", "virtio-scsi-single".to_string()),
        (
            "scsi0",
            format!("{}:{},iothread=1,discard=on", p.storage, p.disk),
        ),
        ("ide2", format!("{},media=cdrom", p.iso)),
        ("net0", format!("virtio,bridge={}", p.bridge)),
        ("boot", "order=scsi0;ide2".to_string()),
        ("description", format!("Built in Proxlab for {who}")),
    ];
    match p.os {
        OsKind::Linux => {
            out.push(("serial0", "socket".to_string()));
            out.push(("agent", "1".to_string()));
        }
        OsKind::Windows => {
            out.push(("bios", "ovmf".to_string()));
            out.push(("machine", "q35".to_string()));
            out.push((
                "efidisk0",
                format!("{}:1,efitype=4m,pre-enrolled-keys=1", p.storage),
            ));
            out.push(("tpmstate0", format!("{}:1,version=v2.0", p.storage)));
            out.push(("agent", "1".to_string()));
            if let Some(d) = &p.drivers {
                out.push(("ide0", format!("{d},media=cdrom")));
            }
        }
        OsKind::Other => {}
    }
    if p.start {
        out.push(("start", "1".to_string()));
    }
    out
}

/// Builds the VM and gives it to `user`.
pub async fn build(services: &Services, user: &user::Model, form: &VmBuildForm) -> Result<BuiltVm> {
    let p = plan(services, user, form).await?;
    let cluster = clusters::find(services, p.cluster_id).await?;
    let client = clusters::client(services, &cluster)?;
    let vmid = client.next_vmid().await?;
    let params = create_params(&p, vmid, &user.username);
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let upid = client.create_vm(&p.node, &borrowed).await?;
    let status = client.wait_task(&p.node, &upid, TASK_TIMEOUT).await?;
    if status.succeeded() != Some(true) {
        return Err(Error::Proxmox(status.exitstatus.unwrap_or_default()));
    }
    // Crash point: the VM exists; without the next row it is nobody's (see the module doc).
    let vmid = vmid as i32;
    assign_and_show(services, user, &cluster, vmid).await?;
    // The CD is known: the hardware page shows it before the full sync reads the config.
    crate::db::entity::vm::Entity::update_many()
        .col_expr(
            crate::db::entity::vm::Column::Cdrom,
            sea_orm::sea_query::Expr::value(Some(p.iso.clone())),
        )
        .filter(crate::db::entity::vm::Column::ClusterId.eq(p.cluster_id))
        .filter(crate::db::entity::vm::Column::Vmid.eq(vmid))
        .exec(&services.db)
        .await?;
    tracing::info!(
        cluster = %cluster.name, node = %p.node, vmid, name = %p.name, os = p.os.as_str(),
        user = %user.username, "VM built"
    );
    Ok(BuiltVm {
        cluster_id: p.cluster_id,
        vmid,
        name: p.name,
        node: p.node,
        started: p.start,
    })
}

/// Gives the new VM to its maker and has the inventory show it at once (one quick sync; the
/// workers' own syncs wait for it), then wakes the sync for its details.
async fn assign_and_show(
    services: &Services,
    user: &user::Model,
    cluster: &crate::db::entity::cluster::Model,
    vmid: i32,
) -> Result<()> {
    assignment::ActiveModel {
        user_id: Set(user.id),
        cluster_id: Set(cluster.id),
        vmid: Set(vmid),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&services.db)
    .await?;
    inventory::bump(
        &services.db,
        [inventory::user_key(user.id), "all".to_owned()],
    )
    .await?;
    if let Err(e) = crate::sync::quick::run(services, cluster).await {
        tracing::warn!(cluster = %cluster.name, error = %e, "quick sync after a new VM");
    }
    services.sync.wake();
    Ok(())
}

/// The templates `user` may copy: those the class wizard offers them, on clusters they may
/// build on.
async fn copyable(
    services: &Services,
    user: &user::Model,
) -> Result<Vec<crate::model::TemplateChoice>> {
    let clusters: Vec<i32> = crate::access::buildable_clusters(services, user)
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    Ok(crate::classes::templates(services, user)
        .await?
        .into_iter()
        .filter(|t| clusters.contains(&t.cluster_id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(os: OsKind) -> Plan {
        Plan {
            cluster_id: 1,
            node: "pve1".into(),
            name: "w".into(),
            os,
            cores: 2,
            memory: 4096,
            disk: 64,
            storage: "local-lvm".into(),
            bridge: "vmbr0".into(),
            iso: "local:iso/win.iso".into(),
            drivers: Some("local:iso/virtio-win.iso".into()),
            start: false,
        }
    }

    fn get<'a>(params: &'a [(&str, String)], key: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn windows_gets_uefi_tpm_and_the_drivers_cd() {
        let p = create_params(&plan(OsKind::Windows), 120, "ann");
        assert_eq!(get(&p, "ostype"), Some("win11"));
        assert_eq!(get(&p, "bios"), Some("ovmf"));
        assert_eq!(get(&p, "machine"), Some("q35"));
        assert_eq!(
            get(&p, "efidisk0"),
            Some("local-lvm:1,efitype=4m,pre-enrolled-keys=1")
        );
        assert_eq!(get(&p, "tpmstate0"), Some("local-lvm:1,version=v2.0"));
        assert_eq!(
            get(&p, "ide0"),
            Some("local:iso/virtio-win.iso,media=cdrom")
        );
        assert_eq!(get(&p, "scsi0"), Some("local-lvm:64,iothread=1,discard=on"));
        assert_eq!(get(&p, "serial0"), None);
        assert_eq!(get(&p, "start"), None);
    }

    #[test]
    fn linux_gets_a_serial_port_and_no_firmware_extras() {
        let mut l = plan(OsKind::Linux);
        l.start = true;
        let p = create_params(&l, 121, "ann");
        assert_eq!(get(&p, "ostype"), Some("l26"));
        assert_eq!(get(&p, "serial0"), Some("socket"));
        assert_eq!(get(&p, "bios"), None);
        assert_eq!(get(&p, "ide0"), None, "drivers CD only for Windows");
        assert_eq!(get(&p, "net0"), Some("virtio,bridge=vmbr0"));
        assert_eq!(get(&p, "boot"), Some("order=scsi0;ide2"));
        assert_eq!(get(&p, "start"), Some("1"));
        assert_eq!(get(&p, "description"), Some("Built in Proxlab for ann"));
    }
}
