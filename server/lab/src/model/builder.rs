//! The VM builder ("New VM from an ISO") as its page shows it, its form, and the input
//! rules both sides check. What each OS gets is decided here, in one place
//! ([`OsKind::settings`]), so the page can say it and the server does it.

use serde::{Deserialize, Serialize};

/// CPU cores a built VM may have.
pub const BUILD_CORES: std::ops::RangeInclusive<u32> = 1..=32;
/// Memory in MiB.
pub const BUILD_MEMORY_MIB: std::ops::RangeInclusive<u32> = 512..=131_072;
/// The system disk in GiB.
pub const BUILD_DISK_GIB: std::ops::RangeInclusive<u32> = 4..=2048;

/// The operating system the VM is built for; it picks Proxmox's `ostype` and sensible
/// hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsKind {
    Linux,
    Windows,
    Other,
}

impl OsKind {
    pub const ALL: [OsKind; 3] = [OsKind::Linux, OsKind::Windows, OsKind::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            OsKind::Linux => "linux",
            OsKind::Windows => "windows",
            OsKind::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<OsKind> {
        OsKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            OsKind::Linux => "Linux (6.x kernel)",
            OsKind::Windows => "Windows 11 / Server 2022+",
            OsKind::Other => "Other",
        }
    }

    /// What the VM gets, in words (the page shows it beside the choice).
    pub fn explain(self) -> &'static str {
        match self {
            OsKind::Linux => {
                "VirtIO SCSI disk and network, a serial port (for the portal's terminal tab), \
                 QEMU guest agent on."
            }
            OsKind::Windows => {
                "UEFI with Secure Boot keys, TPM 2.0, q35, VirtIO SCSI disk and network; the \
                 VirtIO drivers ISO as a second CD if you pick one (Windows Setup needs it to \
                 see the disk)."
            }
            OsKind::Other => "SeaBIOS, VirtIO SCSI disk, VirtIO network.",
        }
    }

    /// Proxmox's `ostype`.
    pub fn ostype(self) -> &'static str {
        match self {
            OsKind::Linux => "l26",
            OsKind::Windows => "win11",
            OsKind::Other => "other",
        }
    }
}

/// One node a VM can be built on, with what can be picked there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildNode {
    pub cluster_id: i32,
    pub cluster: String,
    pub node: String,
    /// Storages with `images` content active on the node: (name, free bytes).
    pub storages: Vec<(String, i64)>,
    pub bridges: Vec<String>,
}

/// An ISO the builder offers: (volid, label). A node-local ISO only on its node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildIso {
    pub cluster_id: i32,
    /// `None`: on a shared storage, usable from every node.
    pub node: Option<String>,
    pub volid: String,
    pub name: String,
}

/// The builder page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildPage {
    pub nodes: Vec<BuildNode>,
    pub isos: Vec<BuildIso>,
    /// Templates that can be copied into a new VM: (`cluster_id/vmid`, label).
    #[serde(default)]
    pub templates: Vec<(String, String)>,
}

/// The builder's form (all text, as a browser sends it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmBuildForm {
    /// `cluster_id/node`.
    pub target: String,
    pub name: String,
    pub os: String,
    pub cores: String,
    pub memory_mib: String,
    pub disk_gib: String,
    pub storage: String,
    pub bridge: String,
    /// The install ISO's volid.
    pub iso: String,
    /// Windows: the VirtIO drivers ISO (empty: none).
    #[serde(default)]
    pub drivers_iso: String,
    /// A checkbox: non-empty starts the VM once made.
    #[serde(default)]
    pub start: String,
}

/// What was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltVm {
    pub cluster_id: i32,
    pub vmid: i32,
    pub name: String,
    pub node: String,
    pub started: bool,
}

/// A built VM's hardware page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareView {
    pub cluster_id: i32,
    pub cluster: String,
    pub vmid: i32,
    pub name: String,
    pub node: String,
    pub running: bool,
    pub cores: i32,
    pub memory_mib: i64,
    pub disk_gib: i64,
    /// The ISO in the CD drive.
    pub cdrom: Option<String>,
    /// ISOs the node can read: (volid, file name).
    pub isos: Vec<(String, String)>,
    /// Its network cards, as the last full sync read them.
    pub nics: Vec<Nic>,
    /// The bridges of its node (the sync reads them hourly).
    pub bridges: Vec<String>,
}

/// A network card of a VM: `net0`, its model (`virtio`, `e1000`, …) and bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    pub key: String,
    pub model: String,
    pub bridge: String,
}

/// The NIC models the hardware page offers (Proxmox has more; these cover every guest a
/// lab runs: VirtIO where there are drivers, Intel E1000 and VMware's vmxnet3 where not).
pub const NIC_MODELS: [(&str, &str); 3] = [
    ("virtio", "VirtIO"),
    ("e1000", "Intel E1000"),
    ("vmxnet3", "VMware vmxnet3"),
];

/// The most network cards the hardware page gives a VM.
pub const MAX_NICS: usize = 8;

impl Nic {
    /// `net0:virtio:vmbr0,net1:e1000:vmbr1`, as `vms.nics` keeps them.
    pub fn list_text(nics: &[Nic]) -> String {
        nics.iter()
            .map(|n| format!("{}:{}:{}", n.key, n.model, n.bridge))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The other way; a part that does not read is skipped.
    pub fn parse_list(text: &str) -> Vec<Nic> {
        text.split(',')
            .filter_map(|part| {
                let mut it = part.splitn(3, ':');
                Some(Nic {
                    key: it.next().filter(|k| !k.is_empty())?.to_string(),
                    model: it.next()?.to_string(),
                    bridge: it.next()?.to_string(),
                })
            })
            .collect()
    }
}

/// A VM name as Proxmox takes it (a DNS name: letters, digits, `-`, `.`; up to 63 between
/// dots), at most 60 characters.
pub fn check_vm_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let ok = !name.is_empty()
        && name.len() <= 60
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if ok {
        Ok(name.to_string())
    } else {
        Err("A VM name is letters, digits and '-' (dots between parts), at most 60 characters, not starting or ending with '-'.".into())
    }
}

/// A whole number in `range`, or the message that names `what`.
pub fn check_in_range(
    raw: &str,
    range: &std::ops::RangeInclusive<u32>,
    what: &str,
) -> Result<u32, String> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "{what} must be a whole number from {} to {}.",
                range.start(),
                range.end()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_names_follow_proxmox() {
        assert_eq!(check_vm_name(" web-01 ").unwrap(), "web-01");
        assert_eq!(check_vm_name("lab.example").unwrap(), "lab.example");
        for bad in [
            "",
            "-a",
            "a-",
            "a..b",
            "a b",
            "a_b",
            "ünï",
            &"a".repeat(61),
            "x;rm",
        ] {
            assert!(check_vm_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numbers_stay_in_their_range() {
        assert_eq!(check_in_range(" 4 ", &BUILD_CORES, "Cores").unwrap(), 4);
        for bad in ["0", "33", "-1", "2.5", "", "four"] {
            let e = check_in_range(bad, &BUILD_CORES, "Cores").unwrap_err();
            assert!(e.starts_with("Cores must be"), "{e}");
        }
    }

    #[test]
    fn each_os_kind_round_trips() {
        for k in OsKind::ALL {
            assert_eq!(OsKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(OsKind::parse("win"), None);
    }
}
