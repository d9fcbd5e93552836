//! Proxmox QEMU guest config files (`/etc/pve/nodes/<node>/qemu-server/<vmid>.conf`): a parser
//! and writer, and the clone rewrite of ARCHITECTURE §4.
//!
//! Why hand-written: no Rust crate parses PVE guest configs, and a class deployment creates
//! its VMs by *writing* these files into the target node's directory in pmxcfs. The file is
//! the VM, so the model is a list of lines rather than a typed struct:
//! * keys we do not know or care about (`args`, `hookscript`, `tags`, `affinity`, keys a
//!   newer PVE adds…) must survive untouched, in their order;
//! * a file we only read or edit lightly must be written back byte for byte as PVE wrote it
//!   (the API's `digest` is the SHA-1 of the raw file, and diffs stay reviewable).
//!
//! The grammar (proxmox/qemu-server `PVE::QemuServer::parse_vm_config`): leading `#` lines are
//! the URL-encoded `description`, then `key: value` lines, then optional sections each opened
//! by a `[header]` line: `[PENDING]`, `[special:cloudinit]` and one `[snapname]` per snapshot.
//! PVE writes keys sorted and one blank line before each section; it ignores blank lines.
//! Sections are kept verbatim here (header and lines): nothing in Proxlab edits them and a
//! clone drops them all.

mod devices;
mod names;
mod rewrite;
#[cfg(test)]
mod tests;

pub use devices::{DiskKind, DiskRef, Volume, split_volid};
pub use names::{random_mac, random_uuid, sanitize_vm_name};
pub use rewrite::{Rewrite, rewrite};

/// A parsed guest config: the main section (leading `#` description lines kept, keys in file
/// order), and the snapshot / `[PENDING]` / `[special:cloudinit]` sections kept verbatim as
/// (header, lines), so that parse → write is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestConfig {
    /// The text after each `#` of the description, still URL-encoded as PVE stored it.
    description: Vec<String>,
    /// `key: value` lines of the main section, in file order; keys are unique.
    entries: Vec<(String, String)>,
    /// Everything from the first `[header]` line on.
    sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    /// The text between the brackets: `PENDING`, `special:cloudinit`, a snapshot name.
    header: String,
    /// The section's non-blank lines, exactly as read.
    lines: Vec<String>,
}

/// What is wrong with a config file, or with a requested change to one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A main-section line that is neither a `#` comment nor `key: value`.
    #[error("line {line}: expected `key: value`, found {text:?}")]
    Malformed { line: usize, text: String },
    /// PVE would silently keep the last one; a clone must not guess which disk or NIC is meant.
    #[error("line {line}: key `{key}` appears twice in the main section")]
    DuplicateKey { line: usize, key: String },
    /// A key or value that cannot be written as one config line.
    #[error("invalid value for `{key}`: {reason}")]
    InvalidValue { key: String, reason: String },
    /// The source has a disk in `slot` but the rewrite gives it no new volume.
    #[error("disk slot `{slot}` has no new volume in the rewrite")]
    MissingDisk { slot: String },
    /// The rewrite gives a new volume for a slot that is not a disk of the source (or is a
    /// CD-ROM, which is kept as it is).
    #[error("the rewrite gives a volume for `{slot}`, which is not a disk of the source config")]
    UnexpectedDisk { slot: String },
    /// The rewrite must give exactly one MAC per network interface.
    #[error(
        "the config has {nets} network interface(s) but the rewrite gives {macs} MAC address(es)"
    )]
    MacCount { nets: usize, macs: usize },
    /// Safety net: the rewritten config would still point at a volume or MAC of the source.
    #[error("the rewritten config would still reference the source VM in `{key}`: {what}")]
    SourceReference { key: String, what: String },
}

impl GuestConfig {
    /// Parses the text of a `.conf` file. Blank lines are ignored (as PVE does); a `#` line
    /// anywhere in the main section is part of the description (PVE moves it to the top on its
    /// next write, and so does [`GuestConfig::to_text`]).
    pub fn parse(text: &str) -> Result<GuestConfig, ConfigError> {
        let mut config = GuestConfig::default();
        // `\n` only, as PVE splits: `lines()` would also eat a `\r` that belongs to the line,
        // and the line would lose it between one write and the next read (found by fuzzing).
        for (index, line) in text.split('\n').enumerate() {
            if let Some(header) = section_header(line) {
                config.sections.push(Section {
                    header: header.to_owned(),
                    lines: Vec::new(),
                });
            } else if line.trim().is_empty() {
                continue;
            } else if let Some(section) = config.sections.last_mut() {
                section.lines.push(line.to_owned());
            } else if let Some(comment) = line.strip_prefix('#') {
                config.description.push(comment.to_owned());
            } else {
                config.push_entry(index + 1, line)?;
            }
        }
        Ok(config)
    }

    fn push_entry(&mut self, line_no: usize, line: &str) -> Result<(), ConfigError> {
        let malformed = || ConfigError::Malformed {
            line: line_no,
            text: line.chars().take(80).collect(),
        };
        let (key, value) = line.split_once(':').ok_or_else(malformed)?;
        let (key, value) = (key.trim_end(), value.trim());
        if !is_key(key) || value.is_empty() {
            return Err(malformed());
        }
        if self.get(key).is_some() {
            return Err(ConfigError::DuplicateKey {
                line: line_no,
                key: key.to_owned(),
            });
        }
        self.entries.push((key.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Writes the file the way PVE does: description, `key: value` lines, then each section
    /// after a blank line. Always ends with a newline.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for line in &self.description {
            out.push('#');
            out.push_str(line);
            out.push('\n');
        }
        for (key, value) in &self.entries {
            out.push_str(key);
            out.push_str(": ");
            out.push_str(value);
            out.push('\n');
        }
        for section in &self.sections {
            out.push_str("\n[");
            out.push_str(&section.header);
            out.push_str("]\n");
            for line in &section.lines {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// The value of a main-section key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a main-section key: replaced in place, or appended at the end.
    ///
    /// # Panics
    /// If `key` is not a config key or `value` cannot be written on one line (empty, line
    /// breaks or other control characters, surrounding blanks). Keys are constants in our
    /// code; use [`GuestConfig::try_set`] for a value that comes from a user.
    pub fn set(&mut self, key: &str, value: &str) {
        if let Err(e) = self.try_set(key, value) {
            panic!("GuestConfig::set: {e}");
        }
    }

    /// [`GuestConfig::set`] that reports an unwritable key or value instead of panicking
    /// (a value with a line break would inject config lines).
    pub fn try_set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        check_entry(key, value)?;
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => value.clone_into(v),
            None => self.entries.push((key.to_owned(), value.to_owned())),
        }
        Ok(())
    }

    /// Removes a main-section key, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(index).1)
    }

    /// The main-section keys in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The description lines, without their `#` and still URL-encoded.
    pub fn description(&self) -> impl Iterator<Item = &str> {
        self.description.iter().map(String::as_str)
    }

    /// The sections after the main one, as (header without brackets, lines).
    pub fn sections(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.sections
            .iter()
            .map(|s| (s.header.as_str(), s.lines.as_slice()))
    }

    /// Every disk slot of the main section, in file order (see [`DiskRef`]).
    pub fn disks(&self) -> Vec<DiskRef> {
        self.entries
            .iter()
            .filter(|(k, _)| devices::is_disk_slot(k))
            .map(|(k, v)| DiskRef::parse(k, v))
            .collect()
    }

    /// The `netN` keys in slot order (numeric: `net2` before `net10`, unlike PVE's sorted
    /// file order).
    pub fn net_slots(&self) -> Vec<String> {
        let mut slots: Vec<(u32, &str)> = self
            .keys()
            .filter_map(|k| Some((devices::net_index(k)?, k)))
            .collect();
        slots.sort_unstable();
        slots.into_iter().map(|(_, k)| k.to_owned()).collect()
    }

    /// The MAC of every `netN` that has one, in slot order, as written (PVE writes uppercase).
    pub fn macs(&self) -> Vec<String> {
        self.net_slots()
            .iter()
            .filter_map(|slot| devices::net_mac(self.get(slot)?))
            .map(str::to_owned)
            .collect()
    }

    /// The `netN` lines with the given MACs, in slot order (as many as both have): what a
    /// config PUT sends to give a Proxmox clone the MACs its row holds.
    pub fn nets_with_macs(&self, macs: &[String]) -> Vec<(String, String)> {
        self.net_slots()
            .into_iter()
            .zip(macs)
            .filter_map(|(slot, mac)| {
                let value = devices::set_net_mac(self.get(&slot)?, &mac.to_ascii_uppercase());
                Some((slot, value))
            })
            .collect()
    }

    /// Whether `template` is set (PVE booleans also accept `yes`/`on`/`true`).
    pub fn is_template(&self) -> bool {
        self.get("template").is_some_and(|v| {
            ["1", "yes", "on", "true"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t))
        })
    }
}

/// `[PENDING]`, `[special:cloudinit]`, `[snap1]` → the text between the brackets.
fn section_header(line: &str) -> Option<&str> {
    let inner = line.trim_end().strip_prefix('[')?.strip_suffix(']')?;
    let ok = !inner.is_empty() && !inner.contains(['[', ']']);
    ok.then_some(inner)
}

/// A config key as PVE's parser accepts it (`[a-z][a-z_]*\d*`, plus `-` as in `amd-sev`).
fn is_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
}

/// A key and value that write as exactly one line and parse back to themselves.
fn check_entry(key: &str, value: &str) -> Result<(), ConfigError> {
    let reason = if !is_key(key) {
        "not a config key"
    } else if value.is_empty() {
        "empty"
    } else if value.chars().any(char::is_control) {
        "contains a line break or control character"
    } else if value.trim() != value {
        "starts or ends with a blank"
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidValue {
        key: key.chars().take(40).collect(),
        reason: reason.to_owned(),
    })
}
