//! Typed node operations: where files live ([`NodePaths`]) and the script fragments that make
//! them ([`NodeOps`]). Every operation is idempotent (check, then act) and writes through a
//! `.part` file renamed at the end, so a step interrupted at any point can simply run again.

use super::guest_config::split_volid;
use super::{NodeError, Script};
use std::collections::BTreeMap;

/// The file layout of a cluster: the pmxcfs root and each file storage's mount point.
#[derive(Clone, Debug)]
pub struct NodePaths {
    pve_root: String,
    storages: BTreeMap<String, String>,
}

/// Node names as PVE allows them (a DNS label), so that no path can be smuggled in.
fn check_node(node: &str) -> Result<(), NodeError> {
    let ok = !node.is_empty()
        && node.len() <= 63
        && node.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !node.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(NodeError::Invalid(format!("{node:?} is not a node name")))
    }
}

/// A storage-relative file name (`vm-100-disk-0.qcow2`): no separators, no `..`.
fn check_file_name(name: &str) -> Result<(), NodeError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(NodeError::Invalid(format!(
            "{name:?} is not a disk file name"
        )))
    }
}

impl NodePaths {
    /// `storage_paths` is the cluster setting: `storage=/absolute/path` per line.
    pub fn new(pve_root: &str, storage_paths: &str) -> Self {
        let storages = storage_paths
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                (
                    k.trim().to_owned(),
                    v.trim().trim_end_matches('/').to_owned(),
                )
            })
            .collect();
        Self {
            pve_root: pve_root.trim_end_matches('/').to_owned(),
            storages,
        }
    }

    pub fn pve_root(&self) -> &str {
        &self.pve_root
    }

    /// The guest config under the *target* node's folder (pmxcfs is cluster-wide; the
    /// `/etc/pve/qemu-server` symlink would place the VM on whichever node we are on).
    pub fn config(&self, node: &str, vmid: u32) -> Result<String, NodeError> {
        check_node(node)?;
        Ok(format!(
            "{}/nodes/{node}/qemu-server/{vmid}.conf",
            self.pve_root
        ))
    }

    /// Where a file storage is mounted; only storages the admin listed can be used.
    pub fn storage_root(&self, storage: &str) -> Result<&str, NodeError> {
        self.storages
            .get(storage)
            .map(String::as_str)
            .ok_or_else(|| {
                NodeError::Invalid(format!(
                    "storage '{storage}' has no path in the cluster settings (Storage paths)"
                ))
            })
    }

    /// `images/<vmid>` of a storage.
    pub fn images_dir(&self, storage: &str, vmid: u32) -> Result<String, NodeError> {
        Ok(format!("{}/images/{vmid}", self.storage_root(storage)?))
    }

    /// The file behind a volid such as `shared:9000/base-9000-disk-0.qcow2`.
    pub fn volume(&self, volid: &str) -> Result<String, NodeError> {
        let v = split_volid(volid)
            .ok_or_else(|| NodeError::Invalid(format!("{volid:?} is not a file volume")))?;
        check_file_name(&v.name)?;
        Ok(format!(
            "{}/{}",
            self.images_dir(&v.storage, v.vmid)?,
            v.name
        ))
    }

    /// The class's template export lives outside `images/` on purpose: PVE treats files
    /// named `vm-N-…`/`base-N-…` under `images/N` as disks of guest N and would delete them
    /// with it, breaking every overlay on top.
    pub fn export_dir(&self, storage: &str, vmid_base: u32) -> Result<String, NodeError> {
        Ok(format!(
            "{}/proxlab/class-{vmid_base}",
            self.storage_root(storage)?
        ))
    }
}

/// Script fragments for node operations.
pub struct NodeOps;

impl NodeOps {
    pub fn mkdir(s: Script, dir: &str) -> Result<Script, NodeError> {
        s.cmd(&["mkdir", "-p", "--", dir])
    }

    /// Exports (and flattens) a disk to a standalone qcow2: `qemu-img convert -O qcow2`.
    pub fn export_disk(s: Script, src: &str, dst: &str) -> Result<Script, NodeError> {
        let part = format!("{dst}.part");
        s.unless_exists(
            dst,
            &[
                &["qemu-img", "convert", "-O", "qcow2", "--", src, &part],
                &["mv", "--", &part, dst],
            ],
        )
    }

    /// A copy-on-write overlay of `backing` (absolute path, qcow2).
    pub fn overlay(s: Script, backing: &str, dst: &str) -> Result<Script, NodeError> {
        let part = format!("{dst}.part");
        s.unless_exists(
            dst,
            &[
                &[
                    "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, &part,
                ],
                &["mv", "--", &part, dst],
            ],
        )
    }

    /// A fresh overlay even if one exists (reset, publish): the old one is replaced.
    pub fn replace_overlay(s: Script, backing: &str, dst: &str) -> Result<Script, NodeError> {
        let part = format!("{dst}.part");
        s.cmd(&[
            "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, &part,
        ])?
        .cmd(&["mv", "-f", "--", &part, dst])
    }

    /// A blank, thin qcow2 disk of `gb` GiB (a class without a template).
    pub fn blank_disk(s: Script, dst: &str, gb: u32) -> Result<Script, NodeError> {
        let part = format!("{dst}.part");
        let size = format!("{gb}G");
        s.unless_exists(
            dst,
            &[
                &["qemu-img", "create", "-q", "-f", "qcow2", &part, &size],
                &["mv", "--", &part, dst],
            ],
        )
    }

    /// Removes a guest config only if it contains `own_mac` (it is one we wrote).
    pub fn remove_own_config(s: Script, path: &str, own_mac: &str) -> Result<Script, NodeError> {
        s.if_grep(own_mac, path, &["rm", "-f", "--", path])
    }

    /// A copy of a file (the template's EFI vars disk).
    pub fn copy(s: Script, src: &str, dst: &str) -> Result<Script, NodeError> {
        let part = format!("{dst}.part");
        s.unless_exists(dst, &[&["cp", "--", src, &part], &["mv", "--", &part, dst]])
    }

    /// A fresh, empty TPM state disk (4 MiB raw, as PVE allocates for `tpmstate0`).
    pub fn tpm_state(s: Script, dst: &str) -> Result<Script, NodeError> {
        let part = format!("{dst}.part");
        s.unless_exists(
            dst,
            &[
                &["qemu-img", "create", "-q", "-f", "raw", &part, "4M"],
                &["mv", "--", &part, dst],
            ],
        )
    }

    /// Writes `content` to `path` unless it exists. For a guest config this is the moment the
    /// VM comes into being, so it is the last command of a VM's script.
    pub fn write_once(s: Script, path: &str, content: &str) -> Result<Script, NodeError> {
        s.write_file_once(path, content)
    }

    pub fn remove(s: Script, paths: &[&str]) -> Result<Script, NodeError> {
        let mut argv = vec!["rm", "-f", "--"];
        argv.extend_from_slice(paths);
        s.cmd(&argv)
    }

    pub fn remove_dir(s: Script, dir: &str) -> Result<Script, NodeError> {
        s.cmd(&["rm", "-rf", "--", dir])
    }

    /// Prints the file, or nothing when it does not exist.
    pub fn read_if_exists(s: Script, path: &str) -> Result<Script, NodeError> {
        s.if_exists(path, &["cat", "--", path])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_refuse_smuggled_names() {
        let p = NodePaths::new("/etc/pve", "local=/var/lib/vz\nshared=/mnt/pve/shared/");
        assert_eq!(
            p.config("pve1", 100).unwrap(),
            "/etc/pve/nodes/pve1/qemu-server/100.conf"
        );
        assert!(p.config("../x", 1).is_err());
        assert!(p.config("a/b", 1).is_err());
        assert_eq!(
            p.volume("shared:9000/base-9000-disk-0.qcow2").unwrap(),
            "/mnt/pve/shared/images/9000/base-9000-disk-0.qcow2"
        );
        assert!(
            p.volume("nfs:100/vm-100-disk-0.qcow2").is_err(),
            "unknown storage"
        );
        assert!(p.volume("local:100/../../etc/shadow").is_err());
    }
}
