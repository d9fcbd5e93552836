//! Proxmox VE API replies (`lab::pve`): the envelope decoder, the streaming decoder of
//! `/cluster/resources`, and every typed reader the client applies to `data`.
//!
//! Why: the portal polls these every few seconds from servers that Perl's loose typing,
//! proxies and version drift all shape (numbers as strings, `null` lists, empty error bodies,
//! plain-text 501s). A reply must turn into data or an error, never a panic, and the two
//! decoders of the guest list (streaming and via a JSON tree) must agree.
//!
//! Input: byte 0 picks the HTTP status (low nibble, from [`STATUSES`]) and whether a reason
//! phrase came with it (bit 4); the rest is the body.

#![no_main]

use lab::fuzzing;
use lab::pve::{ClusterMember, GuestResource, NodeInfo, StorageStatus, TaskStatus, Version};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const STATUSES: [u16; 16] = [
    200, 200, 200, 200, 200, 200, 400, 401, 403, 500, 501, 595, 596, 597, 204, 302,
];

fuzz_target!(|data: &[u8]| {
    let Some((&head, body)) = data.split_first() else {
        return;
    };
    let status = STATUSES[usize::from(head & 0x0F)];
    let reason = (head & 0x10 != 0).then_some("Parameter verification failed.");

    let envelope = fuzzing::envelope(status, reason, body).expect("a real status");
    let guests = fuzzing::guests(status, reason, body).expect("a real status");
    if (200..300).contains(&status) {
        if let (Ok(data), Ok(streamed)) = (&envelope, &guests) {
            // The streaming decoder and the tree-based path agree (Debug: NaN-safe).
            let tree = guests_from_tree(data.clone()).expect("the tree path reads it too");
            assert_eq!(format!("{streamed:?}"), format!("{tree:?}"));
        }
    } else {
        assert!(envelope.is_err(), "an error status gave data");
        assert!(guests.is_err(), "an error status gave guests");
    }
    if let Ok(data) = envelope {
        typed(data);
    }
});

/// What `Client::vm_resources` would have done with a JSON tree (its pre-streaming code).
fn guests_from_tree(data: Value) -> Result<Vec<GuestResource>, String> {
    let entries = match data {
        Value::Null => return Ok(Vec::new()),
        Value::Array(entries) => entries,
        other => return Err(format!("not a list: {other}")),
    };
    entries
        .into_iter()
        .filter(|e| matches!(e.get("type").and_then(Value::as_str), Some("qemu" | "lxc")))
        .map(|e| serde_json::from_value(e).map_err(|e| e.to_string()))
        .collect()
}

/// Every reader the client applies to an envelope's `data`, as the client applies it.
fn typed(data: Value) {
    let _ = serde_json::from_value::<Version>(data.clone());
    let _ = list::<NodeInfo>(&data);
    let _ = list::<GuestResource>(&data);
    let _ = serde_json::from_value::<StorageStatus>(data.clone());
    if let Ok(task) = serde_json::from_value::<TaskStatus>(data.clone()) {
        assert_eq!(task.succeeded().is_none(), task.running);
    }
    if let Ok(entries) = list::<Value>(&data) {
        for entry in entries {
            if entry.get("type").and_then(Value::as_str) == Some("node") {
                let _ = serde_json::from_value::<ClusterMember>(entry);
            }
        }
    }
    if let Ok(config) = fuzzing::guest_config(data.clone()) {
        assert!(config.entries.is_sorted(), "config keys are sorted");
        assert!(config.entries.iter().all(|(k, _)| k != "digest"));
    }
    for interfaces in [
        fuzzing::agent_interfaces(data.clone()),
        fuzzing::lxc_interfaces(data.clone()),
    ] {
        for nic in interfaces.into_iter().flatten() {
            assert_ne!(nic.name, "lo");
            assert!(
                nic.ips
                    .iter()
                    .all(|ip| !ip.is_loopback() && !ip.is_unspecified())
            );
        }
    }
    for field in [data.get("groups"), data.get("members"), Some(&data)] {
        for group in fuzzing::groups(field) {
            assert!(!group.is_empty() && group.trim() == group);
        }
    }
    let _ = fuzzing::term_proxy(data);
}

/// `null` is an empty list (PVE's answer for "nothing").
fn list<T: serde::de::DeserializeOwned>(data: &Value) -> Result<Vec<T>, serde_json::Error> {
    match data {
        Value::Null => Ok(Vec::new()),
        other => serde_json::from_value(other.clone()),
    }
}
