//! Disk and network lines of a guest config, and volume ids.
//!
//! Both are PVE "property strings": comma-separated items, the first of which may be the
//! positional default key (`file` for disks, `model=MAC` shorthand for NICs).

/// One disk slot of the main section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskRef {
    /// `scsi0`, `efidisk0`, …
    pub slot: String,
    pub kind: DiskKind,
    /// `local:100/vm-100-disk-0.qcow2`, `local:iso/debian.iso`, `/dev/sdb`; `None` for an
    /// empty CD-ROM drive (`none`) or the host's drive (`cdrom`).
    pub volid: Option<String>,
    /// The other items, e.g. `iothread=1,size=32G` (empty if there are none).
    pub options: String,
}

/// What a disk slot holds, which decides what a clone does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskKind {
    /// A data disk: the clone gets its own volume.
    Data,
    /// `media=cdrom` with an ISO, `none` or the host drive: shared, kept as it is.
    CdRom,
    /// `efidisk0` (the OVMF variables): the clone gets a copy.
    Efi,
    /// `tpmstate0`: the clone gets a fresh one.
    Tpm,
    /// `media=cdrom` backed by a volume the VM owns: in practice the cloud-init drive
    /// (`vm-100-cloudinit.qcow2`, which PVE regenerates and allocates at start if missing).
    /// It is the source's own disk, so unlike an ISO it must not be shared with a clone.
    CloudInit,
}

impl DiskRef {
    pub(super) fn parse(slot: &str, value: &str) -> DiskRef {
        let items: Vec<&str> = value.split(',').collect();
        // The volume is the positional first item; `file=` is the same key spelled out
        // (PVE never writes it so, but accepts it anywhere in the string).
        let file_index = if items[0].contains('=') {
            items.iter().position(|i| i.starts_with("file="))
        } else {
            Some(0)
        };
        let file = file_index.map(|i| items[i].trim_start_matches("file="));
        let options = items
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != file_index)
            .map(|(_, item)| *item)
            .collect::<Vec<_>>()
            .join(",");
        // `none` = empty drive, `cdrom` = the host's physical drive: no volume either way.
        let volid = file.filter(|f| !matches!(*f, "" | "none" | "cdrom"));
        let cdrom = file == Some("cdrom") || items.contains(&"media=cdrom");
        let kind = match slot {
            "efidisk0" => DiskKind::Efi,
            "tpmstate0" => DiskKind::Tpm,
            _ if cdrom && volid.and_then(split_volid).is_some() => DiskKind::CloudInit,
            _ if cdrom => DiskKind::CdRom,
            _ => DiskKind::Data,
        };
        DiskRef {
            slot: slot.to_owned(),
            kind,
            volid: volid.map(str::to_owned),
            options,
        }
    }

    /// The line value with the volume replaced and the options kept.
    pub(super) fn with_volid(&self, volid: &str) -> String {
        if self.options.is_empty() {
            volid.to_owned()
        } else {
            format!("{volid},{}", self.options)
        }
    }
}

/// The disk slots QEMU guests have (proxmox/qemu-server `PVE::QemuServer::Drive`):
/// ide0-3, sata0-5, scsi0-30, virtio0-15, efidisk0, tpmstate0. `unusedN` are detached
/// volumes, not slots.
pub(super) fn is_disk_slot(key: &str) -> bool {
    if matches!(key, "efidisk0" | "tpmstate0") {
        return true;
    }
    let max = [("ide", 3), ("sata", 5), ("scsi", 30), ("virtio", 15)]
        .into_iter()
        .find_map(|(bus, max)| Some((key.strip_prefix(bus)?, max)));
    match max {
        Some((index, max)) => slot_number(index).is_some_and(|n| n <= max),
        None => false,
    }
}

/// `net0` → 0. Any index, so that an out-of-range NIC still gets a new MAC in a clone.
pub(super) fn net_index(key: &str) -> Option<u32> {
    slot_number(key.strip_prefix("net")?)
}

/// A slot number as PVE writes it: digits, no leading zero (`scsi01` is not a slot).
fn slot_number(text: &str) -> Option<u32> {
    let ok = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if ok { text.parse().ok() } else { None }
}

/// The `netN` options that are not a NIC model, so `bridge=vmbr0` first is not `model=MAC`.
const NET_OPTIONS: &[&str] = &[
    "bridge",
    "firewall",
    "link_down",
    "macaddr",
    "model",
    "mtu",
    "queues",
    "rate",
    "tag",
    "trunks",
];

/// Where a NIC's MAC is written: `virtio=BC:24:11:…` (what PVE writes) or `macaddr=…`.
fn mac_item(items: &[&str]) -> Option<usize> {
    if let Some(i) = items.iter().position(|i| i.starts_with("macaddr=")) {
        return Some(i);
    }
    let (key, _) = items.first()?.split_once('=')?;
    (!NET_OPTIONS.contains(&key)).then_some(0)
}

/// The MAC of a `netN` value, if it has one (PVE invents one at each start if not).
pub(super) fn net_mac(value: &str) -> Option<&str> {
    let items: Vec<&str> = value.split(',').collect();
    let (_, mac) = items[mac_item(&items)?].split_once('=')?;
    Some(mac)
}

/// A `netN` value with its MAC replaced (or added), keeping model, bridge, tag, firewall….
pub(super) fn set_net_mac(value: &str, mac: &str) -> String {
    let mut items: Vec<String> = value.split(',').map(str::to_owned).collect();
    if let Some(i) = mac_item(&value.split(',').collect::<Vec<_>>()) {
        let key = items[i].split_once('=').map_or("", |(k, _)| k).to_owned();
        items[i] = format!("{key}={mac}");
    } else if !items[0].is_empty()
        && !items[0].contains('=')
        && !NET_OPTIONS.contains(&items[0].as_str())
    {
        // A bare model (`virtio,bridge=vmbr0`): use PVE's own `model=MAC` shorthand. Not for
        // an option's bare name or an empty item (`model,…`, `,…`; found by fuzzing): those
        // would become `model=MAC` or `=MAC`, which is no MAC to PVE or to `net_mac`.
        items[0] = format!("{}={mac}", items[0]);
    } else {
        items.push(format!("macaddr={mac}"));
    }
    items.join(",")
}

/// A volume of a VM: its storage, owner and file (or LVM/ZFS/RBD) name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub storage: String,
    /// The owning guest, whose removal deletes the volume.
    pub vmid: u32,
    /// `vm-101-disk-0.qcow2` (file storages: the file in `images/<vmid>/`), `vm-100-disk-0`.
    pub name: String,
}

/// Splits a volid into storage, owner vmid and name. Forms (proxmox/pve-storage
/// `parse_volname` of each plugin):
/// * file storages `local:100/vm-100-disk-0.qcow2`; a linked clone carries its base first,
///   `local:9000/base-9000-disk-0.qcow2/101/vm-101-disk-0.qcow2`, and the volume is the last
///   `vmid/name` pair;
/// * LVM, ZFS, RBD `local-lvm:vm-100-disk-0`, linked `rbd:base-9000-disk-0/vm-101-disk-0`:
///   the owner is the number in the name.
///
/// `None` for anything that is not a guest volume: ISOs (`local:iso/x.iso`), snippets,
/// absolute paths (`/dev/sdb`), `none`.
pub fn split_volid(volid: &str) -> Option<Volume> {
    let (storage, volname) = volid.split_once(':')?;
    if !is_storage_id(storage) {
        return None;
    }
    let parts: Vec<&str> = volname.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.contains(char::is_whitespace))
    {
        return None;
    }
    let name = *parts.last()?;
    let dir_style = matches!(parts.len(), 2 | 4) && parts.iter().step_by(2).all(|p| is_vmid(p));
    let vmid = if dir_style {
        // The directory is the owner, whatever the file is called (PVE's dir plugin).
        parts[parts.len() - 2].parse().ok()?
    } else {
        match parts.as_slice() {
            [name] => owner_from_name(name)?,
            [base, name] if owner_from_name(base).is_some() => owner_from_name(name)?,
            _ => return None,
        }
    };
    Some(Volume {
        storage: storage.to_owned(),
        vmid,
        name: name.to_owned(),
    })
}

fn is_vmid(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `vm-100-disk-0` → 100 (also `base-`, and `subvol-`/`basevol-` of containers).
fn owner_from_name(name: &str) -> Option<u32> {
    let rest = ["vm-", "base-", "subvol-", "basevol-"]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    let (vmid, tail) = rest.split_once('-')?;
    if !is_vmid(vmid) || tail.is_empty() {
        return None;
    }
    vmid.parse().ok()
}

/// A storage id as PVE accepts it: `[a-z][a-z0-9._-]*[a-z0-9]`, case-insensitive.
fn is_storage_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}
