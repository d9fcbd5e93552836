//! Block volumes (`lvmthin`, `zfspool`, `rbd`, `lvm`): there is no device to make, so the
//! simulator keeps what pve-storage would read back from `lvs`, `zfs list` or `rbd ls -l`:
//! each volume's name, size, thin usage, and the base it was cloned from.
//!
//! The rules are pve-storage's (proxmox/pve-storage, 9.1):
//! * names: `vm-<vmid>-disk-<N>` for new volumes, renamed to `base-<vmid>-disk-<N>` when the
//!   guest becomes a template (`create_base` of each plugin); `<N>` is the first number no
//!   `vm-`/`base-` volume of that guest uses on the storage (`Plugin.pm`
//!   `get_next_vm_diskname`).
//! * linked clones (`clone_image`, only from a base: "clone_image only works on base
//!   images"): `LvmThinPlugin.pm` returns the bare new name (a thin snapshot, so the volume id
//!   `local-lvm:vm-101-disk-0` does not name its base); `ZFSPoolPlugin.pm` and `RBDPlugin.pm`
//!   return `base-100-disk-0/vm-101-disk-0`, and their `list_images` report the base as
//!   `parent` (`base-100-disk-0@__base__`).
//! * what each kind can do (`volume_has_feature`): linked clones from a base on lvmthin, zfs
//!   and rbd (lvmthin and rbd also from a snapshot), never on plain `lvm` (which cannot hold
//!   templates either); full copies everywhere except zfs snapshots.
//! * freeing a base that linked clones use fails (`Storage.pm` `vdisk_free`, "base volume
//!   '...' is still in use by linked clones"); on lvmthin that check finds no clone (their
//!   names do not say their base) and the base goes, its thin snapshots living on: "LVM-thin
//!   allows deletion of still referenced base volumes!".
//!
//! Node-local storages keep one volume set per node; shared ones (rbd) one for the cluster.

use std::collections::BTreeMap;

use super::storage::Storage;

/// One volume as the storage reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockVolume {
    /// Virtual size in bytes.
    pub size: u64,
    /// Bytes the thin volume holds (what `used` shows).
    pub used: u64,
    /// The base volume this is a linked clone of (`base-100-disk-0`).
    pub parent: Option<String>,
    /// Creation time (seconds since the epoch).
    pub ctime: u64,
}

/// Where a volume lives: the storage and, for node-local storages, the node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    storage: String,
    /// Empty for shared storages.
    node: String,
}

impl Place {
    fn of(storage: &Storage, node: &str) -> Self {
        Place {
            storage: storage.id.clone(),
            node: if storage.shared {
                String::new()
            } else {
                node.to_string()
            },
        }
    }
}

/// Every block volume of the cluster.
#[derive(Debug, Default)]
pub(crate) struct BlockVolumes {
    volumes: BTreeMap<Place, BTreeMap<String, BlockVolume>>,
}

/// What a storage kind can do with one volume (pve-storage `volume_has_feature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    /// A linked clone (`clone_image`).
    Clone,
    /// A full copy.
    Copy,
    /// Becoming a template's base volume.
    Template,
}

/// Whether `volname` on a storage of `plugintype` has `feature` (`snap`: from a snapshot).
/// File storages (`dir`, `nfs`, `cifs`) follow `Plugin.pm`: linked clones from a base in any
/// of its formats (the clone is a qcow2 overlay), copies of snapshots only for qcow2.
pub(crate) fn has_feature(plugintype: &str, volname: &str, feature: Feature, snap: bool) -> bool {
    let name = volname.rsplit('/').next().unwrap_or(volname);
    let base = name.starts_with("base-");
    let qcow2 = volname.ends_with(".qcow2");
    match (plugintype, feature) {
        ("lvmthin", Feature::Clone) => base || snap,
        ("zfspool", Feature::Clone) => base && !snap,
        ("rbd", Feature::Clone) => base || snap,
        ("lvm", Feature::Clone | Feature::Template) => false,
        ("lvmthin" | "zfspool" | "rbd", Feature::Template) => !snap,
        ("zfspool", Feature::Copy) => !snap,
        ("lvmthin" | "rbd", Feature::Copy) => true,
        ("lvm", Feature::Copy) => !snap || qcow2,
        (_, Feature::Clone) => base && !snap,
        (_, Feature::Template) => !snap,
        (_, Feature::Copy) => !snap || qcow2,
    }
}

/// A storage kind whose volumes are metadata here.
pub(crate) fn is_block(storage: &Storage) -> bool {
    storage.path.is_none()
}

impl BlockVolumes {
    fn set(&self, storage: &Storage, node: &str) -> Option<&BTreeMap<String, BlockVolume>> {
        self.volumes.get(&Place::of(storage, node))
    }

    fn set_mut(&mut self, storage: &Storage, node: &str) -> &mut BTreeMap<String, BlockVolume> {
        self.volumes.entry(Place::of(storage, node)).or_default()
    }

    /// The first free `vm-<vmid>-disk-<N>` name on the storage.
    fn free_name(&self, storage: &Storage, node: &str, vmid: u32) -> String {
        let used: Vec<&String> = self
            .set(storage, node)
            .map(|s| s.keys().collect())
            .unwrap_or_default();
        let taken = |n: u32| {
            used.iter().any(|name| {
                **name == format!("vm-{vmid}-disk-{n}") || **name == format!("base-{vmid}-disk-{n}")
            })
        };
        let n = (0..).find(|n| !taken(*n)).unwrap_or(0);
        format!("vm-{vmid}-disk-{n}")
    }

    /// Allocates a new empty (thin) volume and returns its volume name.
    pub(crate) fn alloc(&mut self, storage: &Storage, node: &str, vmid: u32, size: u64) -> String {
        let name = self.free_name(storage, node, vmid);
        self.set_mut(storage, node).insert(
            name.clone(),
            BlockVolume {
                size,
                used: 0,
                parent: None,
                ctime: now(),
            },
        );
        name
    }

    /// Registers a volume that a config names but the set does not hold (a restart on an
    /// existing root: configs survive, this in-memory set does not).
    pub(crate) fn adopt(&mut self, storage: &Storage, node: &str, volname: &str, size: u64) {
        let (parent, name) = split(volname);
        self.set_mut(storage, node)
            .entry(name.to_string())
            .or_insert(BlockVolume {
                size,
                used: size / 3,
                parent: parent.map(str::to_string),
                ctime: 0,
            });
    }

    /// Writes `used` bytes into a volume (the guest installed something).
    pub(crate) fn fill(&mut self, storage: &Storage, node: &str, volname: &str, used: u64) {
        let (_, name) = split(volname);
        if let Some(v) = self.set_mut(storage, node).get_mut(name) {
            v.used = used.min(v.size);
        }
    }

    /// The volume a volume name refers to.
    pub(crate) fn get(&self, storage: &Storage, node: &str, volname: &str) -> Option<&BlockVolume> {
        let (_, name) = split(volname);
        self.set(storage, node)?.get(name)
    }

    /// `create_base`: renames `vm-` to `base-` and returns the new volume name.
    pub(crate) fn make_base(
        &mut self,
        storage: &Storage,
        node: &str,
        volname: &str,
    ) -> Result<String, String> {
        let (parent, name) = split(volname);
        if name.starts_with("base-") {
            return Err("create_base not possible with base image".into());
        }
        let set = self.set_mut(storage, node);
        let volume = set
            .remove(name)
            .ok_or_else(|| format!("no such volume '{volname}'"))?;
        let new_name = name.replacen("vm-", "base-", 1);
        set.insert(new_name.clone(), volume);
        Ok(match (storage.plugintype, parent) {
            ("zfspool" | "rbd", Some(p)) => format!("{p}/{new_name}"),
            _ => new_name,
        })
    }

    /// `clone_image`: a linked clone of a base for `vmid`; returns the new volume name.
    pub(crate) fn clone_linked(
        &mut self,
        storage: &Storage,
        node: &str,
        base_volname: &str,
        vmid: u32,
    ) -> Result<String, String> {
        let (_, base) = split(base_volname);
        let base = base.to_string();
        if !base.starts_with("base-") {
            return Err("clone_image only works on base images".into());
        }
        let size = self
            .get(storage, node, base_volname)
            .ok_or_else(|| format!("no such volume '{base_volname}'"))?
            .size;
        let name = self.alloc(storage, node, vmid, size);
        if let Some(v) = self.set_mut(storage, node).get_mut(&name) {
            v.parent = Some(base.clone());
        }
        Ok(match storage.plugintype {
            "zfspool" | "rbd" => format!("{base}/{name}"),
            _ => name,
        })
    }

    /// A full copy of `size` bytes holding `used` of them, for `vmid` on `storage`.
    pub(crate) fn copy_in(
        &mut self,
        storage: &Storage,
        node: &str,
        vmid: u32,
        size: u64,
        used: u64,
    ) -> String {
        let name = self.alloc(storage, node, vmid, size);
        self.fill(storage, node, &name, used);
        name
    }

    /// `storage_migrate` of a volume to another node (and maybe another storage): the copy
    /// keeps the name where it is free there, holds all the data (a thin snapshot's copy is
    /// no longer linked), and the source goes. Returns the volume name on the target.
    pub(crate) fn migrate(
        &mut self,
        storage: &Storage,
        node: &str,
        volname: &str,
        target: &Storage,
        target_node: &str,
    ) -> Result<String, String> {
        let (_, name) = split(volname);
        let volume = self
            .get(storage, node, volname)
            .cloned()
            .ok_or_else(|| format!("no such volume '{volname}'"))?;
        let used = (volume.used + self.parent_used(storage, node, &volume)).min(volume.size);
        let owner = owner(name).unwrap_or(0);
        let taken = self
            .set(target, target_node)
            .is_some_and(|s| s.contains_key(name));
        let new_name = if taken {
            self.free_name(target, target_node, owner)
        } else {
            name.to_string()
        };
        self.set_mut(target, target_node).insert(
            new_name.clone(),
            BlockVolume {
                used,
                parent: None,
                ..volume
            },
        );
        self.set_mut(storage, node).remove(name);
        Ok(new_name)
    }

    /// What a linked clone reads through to: its base's data.
    fn parent_used(&self, storage: &Storage, node: &str, volume: &BlockVolume) -> u64 {
        volume
            .parent
            .as_deref()
            .and_then(|p| self.set(storage, node)?.get(p))
            .map_or(0, |b| b.used)
    }

    /// Whether linked clones on the storage name `volname` as their base, as
    /// `volume_is_base_and_used` finds them (never on lvmthin: see the module doc).
    pub(crate) fn is_base_and_used(&self, storage: &Storage, node: &str, volname: &str) -> bool {
        let (_, name) = split(volname);
        if !name.starts_with("base-") || storage.plugintype == "lvmthin" {
            return false;
        }
        self.set(storage, node)
            .is_some_and(|s| s.values().any(|v| v.parent.as_deref() == Some(name)))
    }

    /// `vdisk_free`: removes a volume unless it is a base that linked clones use.
    pub(crate) fn free(
        &mut self,
        storage: &Storage,
        node: &str,
        volname: &str,
    ) -> Result<(), String> {
        if self.is_base_and_used(storage, node, volname) {
            return Err(format!(
                "base volume '{volname}' is still in use by linked clones"
            ));
        }
        let (_, name) = split(volname);
        self.set_mut(storage, node).remove(name);
        Ok(())
    }

    /// Every volume of a storage as `(volid, volume)`, volids as the plugin's `list_images`
    /// builds them.
    pub(crate) fn list(&self, storage: &Storage, node: &str) -> Vec<(String, &BlockVolume)> {
        self.set(storage, node)
            .into_iter()
            .flatten()
            .map(|(name, v)| {
                let volid = match (storage.plugintype, &v.parent) {
                    ("zfspool" | "rbd", Some(p)) => format!("{}:{p}/{name}", storage.id),
                    _ => format!("{}:{name}", storage.id),
                };
                (volid, v)
            })
            .collect()
    }

    /// Bytes the storage's volumes hold.
    pub(crate) fn used(&self, storage: &Storage, node: &str) -> u64 {
        self.set(storage, node)
            .map_or(0, |s| s.values().map(|v| v.used).sum())
    }
}

/// The owner VMID of a volume name (`vm-101-disk-0`, `base-100-disk-0/vm-101-disk-0`).
pub(crate) fn owner(volname: &str) -> Option<u32> {
    let (_, name) = split(volname);
    let rest = name
        .strip_prefix("vm-")
        .or_else(|| name.strip_prefix("base-"))?;
    rest.split('-').next()?.parse().ok()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `base-100-disk-0/vm-101-disk-0` → (`Some(base-100-disk-0)`, `vm-101-disk-0`).
fn split(volname: &str) -> (Option<&str>, &str) {
    match volname.rsplit_once('/') {
        Some((parent, name)) => (Some(parent), name),
        None => (None, volname),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(id: &str, plugintype: &'static str, shared: bool) -> Storage {
        Storage {
            id: id.into(),
            plugintype,
            content: "images,rootdir",
            shared,
            path: None,
            total: 1 << 40,
        }
    }

    #[test]
    fn lvmthin_clones_do_not_name_their_base_and_the_base_may_go() {
        let s = storage("local-lvm", "lvmthin", false);
        let mut v = BlockVolumes::default();
        let disk = v.alloc(&s, "pve1", 100, 10 << 30);
        assert_eq!(disk, "vm-100-disk-0");
        let base = v.make_base(&s, "pve1", &disk).unwrap();
        assert_eq!(base, "base-100-disk-0");
        assert!(v.make_base(&s, "pve1", &base).is_err());
        let clone = v.clone_linked(&s, "pve1", &base, 101).unwrap();
        assert_eq!(clone, "vm-101-disk-0");
        assert_eq!(
            v.get(&s, "pve1", &clone).unwrap().parent.as_deref(),
            Some("base-100-disk-0")
        );
        // Another node's local-lvm is another volume group.
        assert!(v.get(&s, "pve2", &base).is_none());
        assert!(v.clone_linked(&s, "pve2", &base, 102).is_err());
        v.free(&s, "pve1", &base).unwrap();
        assert!(
            v.get(&s, "pve1", &clone).is_some(),
            "the thin snapshot lives on"
        );
    }

    #[test]
    fn zfs_and_rbd_clones_name_their_base_which_then_cannot_go() {
        for (id, kind, shared) in [("local-zfs", "zfspool", false), ("ceph", "rbd", true)] {
            let s = storage(id, kind, shared);
            let mut v = BlockVolumes::default();
            let disk = v.alloc(&s, "pve1", 100, 10 << 30);
            let base = v.make_base(&s, "pve1", &disk).unwrap();
            // rbd is shared: every node sees the same pool; a zfs pool is the node's own.
            assert_eq!(v.get(&s, "pve2", &base).is_some(), shared);
            let clone = v.clone_linked(&s, "pve1", &base, 101).unwrap();
            assert_eq!(clone, "base-100-disk-0/vm-101-disk-0");
            assert_eq!(
                v.free(&s, "pve1", &base).unwrap_err(),
                "base volume 'base-100-disk-0' is still in use by linked clones"
            );
            let listed: Vec<String> = v.list(&s, "pve1").into_iter().map(|(id, _)| id).collect();
            assert!(
                listed.contains(&format!("{id}:base-100-disk-0/vm-101-disk-0")),
                "{listed:?}"
            );
            // A clone made a template keeps its base in its name.
            assert_eq!(
                v.make_base(&s, "pve1", &clone).unwrap(),
                "base-100-disk-0/base-101-disk-0"
            );
            assert!(v.free(&s, "pve1", &base).is_err());
            v.free(&s, "pve1", "base-100-disk-0/base-101-disk-0")
                .unwrap();
            v.free(&s, "pve1", &base).unwrap();
            assert!(v.list(&s, "pve1").is_empty());
        }
    }

    #[test]
    fn disk_numbers_skip_those_in_use() {
        let s = storage("local-lvm", "lvmthin", false);
        let mut v = BlockVolumes::default();
        assert_eq!(v.alloc(&s, "pve1", 100, 1), "vm-100-disk-0");
        assert_eq!(v.alloc(&s, "pve1", 100, 1), "vm-100-disk-1");
        v.make_base(&s, "pve1", "vm-100-disk-0").unwrap();
        assert_eq!(v.alloc(&s, "pve1", 100, 1), "vm-100-disk-2");
        v.free(&s, "pve1", "vm-100-disk-1").unwrap();
        assert_eq!(v.alloc(&s, "pve1", 100, 1), "vm-100-disk-1");
        assert_eq!(owner("base-100-disk-0/vm-101-disk-3"), Some(101));
    }

    #[test]
    fn features_follow_pve_storage() {
        assert!(has_feature(
            "lvmthin",
            "base-100-disk-0",
            Feature::Clone,
            false
        ));
        assert!(!has_feature(
            "lvmthin",
            "vm-100-disk-0",
            Feature::Clone,
            false
        ));
        assert!(has_feature("rbd", "vm-100-disk-0", Feature::Clone, true));
        assert!(!has_feature(
            "zfspool",
            "base-100-disk-0",
            Feature::Clone,
            true
        ));
        assert!(!has_feature(
            "lvm",
            "base-100-disk-0",
            Feature::Clone,
            false
        ));
        assert!(!has_feature(
            "lvm",
            "vm-100-disk-0",
            Feature::Template,
            false
        ));
        assert!(has_feature(
            "dir",
            "100/base-100-disk-0.raw",
            Feature::Clone,
            false
        ));
        assert!(!has_feature(
            "dir",
            "100/vm-100-disk-0.raw",
            Feature::Copy,
            true
        ));
        assert!(has_feature(
            "nfs",
            "100/vm-100-disk-0.qcow2",
            Feature::Copy,
            true
        ));
    }
}
