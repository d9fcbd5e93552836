//! The clone rewrite (ARCHITECTURE §4): a template's config turned into the config of one of
//! the class's VMs, which then owns nothing of the template but what it shares on purpose
//! (CD-ROM ISOs, bridges, hook scripts…).

use super::devices::{self, DiskKind};
use super::{ConfigError, GuestConfig};
use std::collections::{BTreeMap, BTreeSet};

/// What changes between the template and a clone. Every value is checked before use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// The clone's name, already sanitised ([`super::sanitize_vm_name`]).
    pub name: String,
    /// `true` only for the class base (`P99`).
    pub template: bool,
    /// Slot → the clone's own volume, for every data, EFI, TPM and cloud-init slot.
    pub disks: BTreeMap<String, String>,
    /// One per `netN`, in slot order ([`GuestConfig::net_slots`]).
    pub macs: Vec<String>,
    pub smbios_uuid: String,
    pub vmgenid: String,
    pub cores: Option<u32>,
    pub memory_mb: Option<u32>,
}

/// Keys that describe the source's state or history, not its hardware: its lock, snapshot
/// chain, suspended state (`vmstate` and the machine it was suspended with) and detached
/// volumes (`unusedN`, which point at the source's own volumes).
fn is_dropped(key: &str) -> bool {
    matches!(
        key,
        "lock"
            | "parent"
            | "vmstate"
            | "snaptime"
            | "snapstate"
            | "digest"
            | "runningmachine"
            | "runningcpu"
    ) || key
        .strip_prefix("unused")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The clone's config: see ARCHITECTURE §4 and [`Rewrite`]. Fails rather than write a config
/// that would share a volume or a MAC with the source.
pub fn rewrite(source: &GuestConfig, r: &Rewrite) -> Result<GuestConfig, ConfigError> {
    check_rewrite(r)?;
    // Description kept; sections (snapshots, [PENDING], [special:cloudinit]) all dropped.
    let mut out = GuestConfig {
        description: source.description.clone(),
        entries: (source.entries.iter())
            .filter(|(k, _)| !is_dropped(k))
            .cloned()
            .collect(),
        sections: Vec::new(),
    };
    rewrite_disks(source, &mut out, &r.disks)?;
    rewrite_nets(&mut out, &r.macs)?;
    out.try_set("name", &r.name)?;
    if r.template {
        out.try_set("template", "1")?;
    } else {
        out.remove("template");
    }
    set_smbios_uuid(&mut out, &r.smbios_uuid)?;
    out.try_set("vmgenid", &r.vmgenid)?;
    if let Some(cores) = r.cores {
        out.try_set("cores", &cores.to_string())?;
        clamp_vcpus(&mut out, cores)?;
    }
    if let Some(memory) = r.memory_mb {
        out.try_set("memory", &memory.to_string())?;
        clamp_balloon(&mut out, memory)?;
    }
    check_no_source_reference(source, &out)?;
    Ok(out)
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// Validates the values the caller gives, which end up on config lines.
fn check_rewrite(r: &Rewrite) -> Result<(), ConfigError> {
    if !is_dns_name(&r.name) {
        return Err(invalid("name", "not a DNS name (PVE requires one)"));
    }
    for (key, uuid) in [("smbios1", &r.smbios_uuid), ("vmgenid", &r.vmgenid)] {
        if !is_uuid(uuid) {
            return Err(invalid(key, format!("{uuid:?} is not a UUID")));
        }
    }
    let mut seen = BTreeSet::new();
    for mac in &r.macs {
        if !is_unicast_mac(mac) {
            return Err(invalid(
                "net",
                format!("{mac:?} is not a unicast MAC address"),
            ));
        }
        if !seen.insert(mac.to_ascii_uppercase()) {
            return Err(invalid("net", format!("MAC {mac} is given twice")));
        }
    }
    for (slot, volid) in &r.disks {
        let ok = !volid.is_empty()
            && !matches!(volid.as_str(), "none" | "cdrom")
            && !volid
                .contains(|c: char| c == ',' || c == '=' || c.is_whitespace() || c.is_control());
        if !ok {
            return Err(invalid(slot, format!("{volid:?} is not a volume id")));
        }
    }
    // PVE's minimums: 1 core, 16 MiB.
    if r.cores == Some(0) {
        return Err(invalid("cores", "must be at least 1"));
    }
    if r.memory_mb.is_some_and(|m| m < 16) {
        return Err(invalid("memory", "must be at least 16 MiB"));
    }
    Ok(())
}

/// Points every disk slot but the CD-ROMs at the clone's own volume, keeping its options
/// (`iothread`, `size`, `efitype`, `version`…). `size=` is the template's: PVE only reads it
/// for display, and an overlay or copy has the same virtual size anyway.
fn rewrite_disks(
    source: &GuestConfig,
    out: &mut GuestConfig,
    new: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let mut used = BTreeSet::new();
    for disk in source.disks() {
        if disk.kind == DiskKind::CdRom {
            continue;
        }
        let volid = new
            .get(&disk.slot)
            .ok_or_else(|| ConfigError::MissingDisk {
                slot: disk.slot.clone(),
            })?;
        out.try_set(&disk.slot, &disk.with_volid(volid))?;
        used.insert(disk.slot);
    }
    match new.keys().find(|slot| !used.contains(*slot)) {
        Some(slot) => Err(ConfigError::UnexpectedDisk { slot: slot.clone() }),
        None => Ok(()),
    }
}

/// Gives every NIC the next MAC, changing only the MAC item of its line.
fn rewrite_nets(out: &mut GuestConfig, macs: &[String]) -> Result<(), ConfigError> {
    let slots = out.net_slots();
    if slots.len() != macs.len() {
        return Err(ConfigError::MacCount {
            nets: slots.len(),
            macs: macs.len(),
        });
    }
    for (slot, mac) in slots.iter().zip(macs) {
        let value = out.get(slot).unwrap_or_default();
        let value = devices::set_net_mac(value, &mac.to_ascii_uppercase());
        out.try_set(slot, &value)?;
    }
    Ok(())
}

/// `smbios1` is a property string (`uuid=…,manufacturer=…,base64=1`): only `uuid` changes.
/// (With `base64=1` the text fields are encoded, never the uuid.)
fn set_smbios_uuid(out: &mut GuestConfig, uuid: &str) -> Result<(), ConfigError> {
    let item = format!("uuid={uuid}");
    let value = match out.get("smbios1") {
        None => item,
        Some(old) => {
            let mut items: Vec<&str> = old.split(',').collect();
            match items.iter().position(|i| i.starts_with("uuid=")) {
                Some(i) => items[i] = &item,
                None => items.insert(0, &item),
            }
            items.join(",")
        }
    };
    out.try_set("smbios1", &value)
}

/// PVE refuses to start a VM whose `vcpus` (hot-plugged CPUs) exceeds sockets × cores.
fn clamp_vcpus(out: &mut GuestConfig, cores: u32) -> Result<(), ConfigError> {
    let sockets: u32 = out.get("sockets").and_then(|s| s.parse().ok()).unwrap_or(1);
    let max = sockets.saturating_mul(cores);
    match out.get("vcpus").and_then(|v| v.parse::<u32>().ok()) {
        Some(vcpus) if vcpus > max => out.try_set("vcpus", &max.to_string()),
        _ => Ok(()),
    }
}

/// PVE refuses to start a VM whose `balloon` (minimum memory) exceeds `memory`;
/// `balloon: 0` means ballooning off and stays.
fn clamp_balloon(out: &mut GuestConfig, memory: u32) -> Result<(), ConfigError> {
    match out.get("balloon").and_then(|v| v.parse::<u32>().ok()) {
        Some(balloon) if balloon > memory => out.try_set("balloon", &memory.to_string()),
        _ => Ok(()),
    }
}

/// The safety net: no value item of the clone may be one of the source's own volumes, and
/// no value may contain one of its MACs, whatever key it hides in.
fn check_no_source_reference(source: &GuestConfig, out: &GuestConfig) -> Result<(), ConfigError> {
    let volids: BTreeSet<String> = (source.disks().into_iter())
        .filter(|d| d.kind != DiskKind::CdRom)
        .filter_map(|d| d.volid)
        .collect();
    let macs: Vec<String> = source
        .macs()
        .iter()
        .map(|m| m.to_ascii_uppercase())
        .collect();
    for (key, value) in &out.entries {
        let items = value
            .split(',')
            .map(|i| i.split_once('=').map_or(i, |(_, v)| v));
        if let Some(volid) = items.into_iter().find(|i| volids.contains(*i)) {
            return Err(ConfigError::SourceReference {
                key: key.clone(),
                what: format!("volume {volid}"),
            });
        }
        let upper = value.to_ascii_uppercase();
        if let Some(mac) = macs.iter().find(|m| upper.contains(m.as_str())) {
            return Err(ConfigError::SourceReference {
                key: key.clone(),
                what: format!("MAC {mac}"),
            });
        }
    }
    Ok(())
}

/// PVE's `dns-name` format: dot-separated labels of letters, digits and inner `-`.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `XX:XX:XX:XX:XX:XX` with the multicast bit clear (QEMU cannot use a group address).
fn is_unicast_mac(mac: &str) -> bool {
    let octets: Vec<&str> = mac.split(':').collect();
    octets.len() == 6
        && octets
            .iter()
            .all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()))
        && u8::from_str_radix(octets[0], 16).is_ok_and(|b| b & 1 == 0)
}
