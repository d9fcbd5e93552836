//! Which way a class's VMs are made, from the storage its template's disks are on. A pure
//! rule (the review step shows its reason word for word), so it is tested on its own.
//!
//! What each storage plugin can do (pve-storage `volume_has_feature` per plugin):
//! linked clones need a `base-` volume the clone can point at: LVM-thin (thin snapshot),
//! ZFS (`zfs clone` of `@__base__`), Ceph RBD (`rbd clone` of `@__base__`) and the file
//! storages (a qcow2 whose backing file is the base, raw or qcow2; `Plugin.pm`
//! `clone_image`). Plain LVM has no snapshots, so only full copies. iSCSI and the like
//! cannot hold new volumes at all.

use crate::db::entity::cluster;
use crate::model::DeployMethod;

/// Storages whose volumes are files (`Plugin.pm` and its path-based children).
const FILE_PLUGINS: &[&str] = &["dir", "nfs", "cifs", "glusterfs", "btrfs"];
/// Block storages that make linked clones of a template.
const LINKED_PLUGINS: &[&str] = &["lvmthin", "zfspool", "rbd"];
/// Block storages that only make full copies.
const FULL_PLUGINS: &[&str] = &["lvm"];

/// The method for a class on `storage` (plugin `plugin`, `""` if unknown), and why.
/// `has_path`: the cluster settings give the storage's path *and* the portal has a node
/// shell (SSH settings, or it runs on a node), so it can write overlays there.
/// `Err` is a blocker in the teacher's words.
pub fn choose(
    storage: &str,
    plugin: &str,
    has_path: bool,
    template: bool,
) -> Result<(DeployMethod, String), String> {
    let file = FILE_PLUGINS.contains(&plugin);
    if has_path && (file || plugin.is_empty()) {
        return Ok((
            DeployMethod::Overlay,
            format!(
                "Storage '{storage}' is a file storage the portal reaches over a node shell: \
                 each VM is a qcow2 overlay of the class base (the fastest way)."
            ),
        ));
    }
    if !template {
        return Err(format!(
            "A class without a template needs a file storage the portal reaches over a node \
             shell (SSH settings and the storage's path in the cluster settings); '{storage}' \
             is not one. Choose a template, or ask an admin to set that up."
        ));
    }
    if file || LINKED_PLUGINS.contains(&plugin) {
        return Ok((
            DeployMethod::LinkedClone,
            format!(
                "Storage '{storage}' ({}) makes linked clones: the class base is a full copy of \
                 the template, every student VM a linked clone of it, through the Proxmox API alone.",
                plugin_name(plugin)
            ),
        ));
    }
    if FULL_PLUGINS.contains(&plugin) {
        return Ok((
            DeployMethod::FullClone,
            format!(
                "Storage '{storage}' ({}) cannot make linked clones: every VM is a full copy of \
                 the template's disks, which takes longer and the whole disk size per VM.",
                plugin_name(plugin)
            ),
        ));
    }
    Err(format!(
        "Storage '{storage}' ({}) cannot hold clones of VM disks; move the template's disks to \
         LVM-thin, ZFS, Ceph RBD or a directory/NFS storage.",
        plugin_name(plugin)
    ))
}

/// Whether the portal can write `storage`'s files: the cluster settings give its path
/// (`storage=/path` lines) and a node shell exists (SSH settings, or pmxcfs mounted here,
/// which means the portal runs on a node).
pub fn shell_reaches(cluster: &cluster::Model, storage: &str) -> bool {
    let path = cluster
        .storage_paths
        .lines()
        .any(|l| l.split_once('=').is_some_and(|(k, _)| k.trim() == storage));
    let shell = cluster.ssh_user.is_some()
        || std::path::Path::new(&cluster.pve_root)
            .join("nodes")
            .is_dir();
    path && shell
}

/// A storage plugin as Proxmox's GUI names it.
pub fn plugin_name(plugin: &str) -> &str {
    match plugin {
        "dir" => "Directory",
        "nfs" => "NFS",
        "cifs" => "SMB/CIFS",
        "glusterfs" => "GlusterFS",
        "btrfs" => "BTRFS",
        "lvm" => "LVM",
        "lvmthin" => "LVM-Thin",
        "zfspool" => "ZFS",
        "rbd" => "Ceph RBD",
        "" => "unknown type",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_storage_with_a_path_takes_the_overlay_path() {
        let (m, why) = choose("shared", "nfs", true, true).unwrap();
        assert_eq!(m, DeployMethod::Overlay);
        assert!(why.contains("qcow2 overlay"), "{why}");
    }

    #[test]
    fn file_storage_without_a_path_is_cloned_through_the_api() {
        let (m, _) = choose("shared", "nfs", false, true).unwrap();
        assert_eq!(m, DeployMethod::LinkedClone);
    }

    #[test]
    fn block_storages_make_linked_clones_even_with_a_path_set() {
        for p in ["lvmthin", "zfspool", "rbd"] {
            let (m, why) = choose("s", p, true, true).unwrap();
            assert_eq!(m, DeployMethod::LinkedClone, "{p}");
            assert!(why.contains(plugin_name(p)), "{why}");
        }
    }

    #[test]
    fn plain_lvm_makes_full_copies() {
        let (m, why) = choose("vg", "lvm", false, true).unwrap();
        assert_eq!(m, DeployMethod::FullClone);
        assert!(why.contains("cannot make linked clones"), "{why}");
    }

    #[test]
    fn storages_that_cannot_hold_clones_and_empty_classes_on_block_storage_are_blockers() {
        assert!(choose("san", "iscsi", false, true).is_err());
        let e = choose("local-lvm", "lvmthin", false, false).unwrap_err();
        assert!(e.contains("without a template"), "{e}");
    }
}
