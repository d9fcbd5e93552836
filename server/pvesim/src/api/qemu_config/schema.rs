//! The slice of PVE's config schema the simulator checks: which keys exist for QEMU and
//! LXC and which are integers or booleans (so GET types them as numbers and writes reject
//! `type check ('integer') failed - got 'two'`); numbered keys (`net0`, `scsi1`) by prefix.

use serde_json::{Map, Value, json};

use crate::api::params::parse_bool;
use crate::model::conf::Section;
use crate::model::store::Kind;

const QEMU_INT: &[&str] = &[
    "cores",
    "sockets",
    "vcpus",
    "balloon",
    "shares",
    "cpuunits",
    "migrate_speed",
    "snaptime",
];
const QEMU_BOOL: &[&str] = &[
    "numa",
    "onboot",
    "protection",
    "template",
    "tablet",
    "acpi",
    "kvm",
    "localtime",
    "freeze",
    "reboot",
    "autostart",
];
const QEMU_STR: &[&str] = &[
    "name",
    "description",
    "tags",
    "ostype",
    "boot",
    "bootdisk",
    "cpu",
    "memory",
    "bios",
    "machine",
    "scsihw",
    "vga",
    "smbios1",
    "vmgenid",
    "meta",
    "lock",
    "hookscript",
    "startup",
    "args",
    "hotplug",
    "agent",
    "ciuser",
    "cipassword",
    "citype",
    "ciupgrade",
    "sshkeys",
    "nameserver",
    "searchdomain",
    "cicustom",
    "keyboard",
    "audio0",
    "rng0",
    "watchdog",
    "spice_enhancements",
    "affinity",
    "arch",
    "tpmstate0",
    "efidisk0",
    "hugepages",
    "parent",
    "vmstatestorage",
    "cpulimit",
    "migrate_downtime",
    "vmstate",
    "runningmachine",
    "runningcpu",
    "amd-sev",
    "intel-tdx",
    "virtiofs0",
    "startdate",
];
const QEMU_NUMBERED: &[&str] = &[
    "ide", "sata", "scsi", "virtio", "net", "unused", "ipconfig", "serial", "usb", "hostpci",
    "parallel", "numa", "virtiofs",
];
const LXC_INT: &[&str] = &["cores", "memory", "swap", "cpuunits", "tty", "snaptime"];
const LXC_BOOL: &[&str] = &[
    "onboot",
    "protection",
    "template",
    "unprivileged",
    "console",
    "debug",
];
const LXC_STR: &[&str] = &[
    "hostname",
    "arch",
    "ostype",
    "rootfs",
    "features",
    "nameserver",
    "searchdomain",
    "description",
    "tags",
    "lock",
    "startup",
    "cmode",
    "timezone",
    "hookscript",
    "cpulimit",
    "parent",
    "entrypoint",
    "env",
];
const LXC_NUMBERED: &[&str] = &["mp", "net", "unused", "dev"];
/// Parameters that steer the call rather than name config keys.
pub(crate) const CONTROL: &[&str] = &[
    "digest",
    "delete",
    "revert",
    "skiplock",
    "background_delay",
    "force",
    "node",
    "vmid",
    "current",
    "snapshot",
];

pub(crate) enum Type {
    Int,
    Bool,
    Str,
}

pub(crate) fn key_type(kind: Kind, key: &str) -> Option<Type> {
    let (ints, bools, strs, numbered) = match kind {
        Kind::Qemu => (QEMU_INT, QEMU_BOOL, QEMU_STR, QEMU_NUMBERED),
        Kind::Lxc => (LXC_INT, LXC_BOOL, LXC_STR, LXC_NUMBERED),
    };
    if ints.contains(&key) {
        Some(Type::Int)
    } else if bools.contains(&key) {
        Some(Type::Bool)
    } else if strs.contains(&key) {
        Some(Type::Str)
    } else {
        numbered
            .iter()
            .any(|p| {
                key.strip_prefix(p)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .then_some(Type::Str)
    }
}

/// Checks one config key and value against the schema; returns the value as stored
/// (booleans normalised to 0/1) or the validator's message.
pub(crate) fn check(kind: Kind, key: &str, value: &str) -> Result<String, String> {
    match key_type(kind, key) {
        None => Err(
            "property is not defined in schema and the schema does not allow additional properties"
                .into(),
        ),
        Some(Type::Int) if value.parse::<i64>().is_err() => {
            Err(format!("type check ('integer') failed - got '{value}'"))
        }
        Some(Type::Bool) => parse_bool(value)
            .map(|b| u8::from(b).to_string())
            .ok_or_else(|| format!("type check ('boolean') failed - got '{value}'")),
        Some(_) => Ok(value.to_string()),
    }
}

/// A config section as the API types it.
pub(crate) fn typed(kind: Kind, section: &Section) -> Map<String, Value> {
    section
        .iter()
        .map(|(k, v)| {
            let value = match key_type(kind, k) {
                Some(Type::Int) => v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n)),
                Some(Type::Bool) => parse_bool(v).map_or_else(|| json!(v), |b| json!(u8::from(b))),
                _ => json!(v),
            };
            (k.clone(), value)
        })
        .collect()
}
