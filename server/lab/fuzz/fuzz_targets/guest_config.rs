//! Guest config files (`lab::node::guest_config`): the parser, the writer and the clone
//! rewrite, plus volid splitting and VM-name sanitising.
//!
//! Why: a class deployment reads template configs from the node and writes new VMs' configs
//! into pmxcfs; the file *is* the VM. Whatever a template holds (an admin can put anything
//! in `args:` or a snapshot section), parsing must not panic, `parse → to_text → parse` must
//! be stable, and a rewrite that succeeds must yield a file that parses back to itself. The
//! input is the file's text (invalid UTF-8 is replaced, as a lossy reader would).

#![no_main]

use lab::node::guest_config::{
    ConfigError, DiskKind, GuestConfig, Rewrite, rewrite, sanitize_vm_name, split_volid,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    for line in text.lines() {
        volid(line);
    }
    name(text);

    let Ok(config) = GuestConfig::parse(text) else {
        return;
    };
    round_trip(&config);
    inspect(&config);
    clone_of(&config, data);
    set_from_input(&config, text);
});

/// Parsing what we wrote gives the same config and the same text.
fn round_trip(config: &GuestConfig) {
    let written = config.to_text();
    let again = GuestConfig::parse(&written)
        .unwrap_or_else(|e| panic!("our own output does not parse: {e}\n{written:?}"));
    assert_eq!(
        &again, config,
        "parse(to_text) changed the config\n{written:?}"
    );
    assert_eq!(again.to_text(), written);
}

fn inspect(config: &GuestConfig) {
    for disk in config.disks() {
        assert!(config.get(&disk.slot).is_some());
        if let Some(volid) = &disk.volid {
            volid_checks(volid);
        }
    }
    let slots = config.net_slots();
    assert!(slots.iter().all(|s| config.get(s).is_some()));
    assert!(config.macs().len() <= slots.len());
    let _ = config.is_template();
    assert_eq!(
        config.keys().count(),
        config
            .keys()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
}

/// A complete, valid rewrite request for `source`: it may be refused for what the source
/// holds (a control character in a disk line, a MAC of its own elsewhere), never for being
/// incomplete, and what it returns must be a clean, stable config.
fn clone_of(source: &GuestConfig, data: &[u8]) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let disks = source
        .disks()
        .into_iter()
        .filter(|d| d.kind != DiskKind::CdRom)
        .enumerate()
        .map(|(i, d)| (d.slot, format!("fz:999999/vm-999999-disk-{i}.qcow2")))
        .collect();
    let macs: Vec<String> = (0..source.net_slots().len())
        .map(|i| format!("02:FF:00:00:{:02X}:{:02X}", i / 256, i % 256))
        .collect();
    let r = Rewrite {
        name: sanitize_vm_name(
            &String::from_utf8_lossy(&data[..data.len().min(80)]),
            999999,
        ),
        template: byte(0) & 1 == 1,
        disks,
        macs,
        smbios_uuid: "6f1c2a9e-0d4b-4c1e-9a53-2f7f1f0c1a11".into(),
        vmgenid: "0b7c41d2-3e8f-4a44-b1a2-7d0c5e9f6a01".into(),
        cores: (byte(1) & 1 == 1).then(|| u32::from(byte(2)).max(1)),
        memory_mb: (byte(3) & 1 == 1).then(|| u32::from(byte(4)) * 64 + 16),
    };
    match rewrite(source, &r) {
        Ok(out) => {
            round_trip(&out);
            assert_eq!(out.macs(), r.macs);
            assert_eq!(out.sections().count(), 0);
            assert_eq!(out.get("name"), Some(r.name.as_str()));
            assert_eq!(out.is_template(), r.template);
            for disk in source.disks() {
                if disk.kind == DiskKind::CdRom {
                    assert_eq!(out.get(&disk.slot), source.get(&disk.slot));
                }
            }
        }
        Err(
            e @ (ConfigError::MissingDisk { .. }
            | ConfigError::UnexpectedDisk { .. }
            | ConfigError::MacCount { .. }
            | ConfigError::Malformed { .. }
            | ConfigError::DuplicateKey { .. }),
        ) => panic!("a complete request was refused: {e}"),
        Err(ConfigError::InvalidValue { key, reason }) => {
            assert_ne!(key, "name", "a sanitised name was refused: {reason}");
        }
        Err(ConfigError::SourceReference { .. }) => {}
    }
}

/// `try_set` either refuses or sets something that writes as one line and reads back.
fn set_from_input(config: &GuestConfig, text: &str) {
    let (key, value) = text.split_once('=').unwrap_or(("description", text));
    let mut edited = config.clone();
    if edited.try_set(key, value).is_ok() {
        assert_eq!(edited.get(key), Some(value));
        round_trip(&edited);
    }
}

fn volid(text: &str) {
    // Disk values carry options after the volume.
    for item in text.split([',', ' ']) {
        volid_checks(item);
    }
}

fn volid_checks(text: &str) {
    if let Some(volume) = split_volid(text) {
        let (storage, volname) = text.split_once(':').unwrap();
        assert_eq!(volume.storage, storage);
        assert!(!volume.name.is_empty());
        assert!(volname.ends_with(volume.name.as_str()));
    }
}

/// Whatever was typed, the name is a DNS label PVE accepts.
fn name(text: &str) {
    let name = sanitize_vm_name(text, 4242);
    assert!((1..=63).contains(&name.len()), "{name:?}");
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    );
    assert!(!name.starts_with('-') && !name.ends_with('-'), "{name:?}");
}
