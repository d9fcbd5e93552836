//! Reading every guest config of a cluster in one node command (instead of one API call per
//! guest): pmxcfs shows all nodes' configs under `/etc/pve/nodes/*/`.

use super::{NodeError, NodeShell, Script};
use crate::pve::GuestConfig;
use sha1::{Digest, Sha1};
use std::collections::HashMap;

/// A guest config as the API would return it: main-section keys, and the digest (SHA-1 of
/// the whole file, as PVE computes it).
pub fn api_config(text: &str) -> GuestConfig {
    let entries = text
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let digest = Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    GuestConfig {
        entries,
        digest: Some(digest),
    }
}

/// Every guest config under `pve_root`, by VMID.
pub async fn read_all_configs(
    shell: &NodeShell,
    pve_root: &str,
) -> Result<HashMap<u32, GuestConfig>, NodeError> {
    let out = shell
        .run(&Script::new().dump_guest_configs(pve_root)?, b"")
        .await?;
    Ok(parse_dump(&String::from_utf8_lossy(&out)))
}

fn parse_dump(text: &str) -> HashMap<u32, GuestConfig> {
    text.split('\u{1e}')
        .filter_map(|chunk| {
            let (path, body) = chunk.split_once('\n')?;
            let vmid = path
                .rsplit('/')
                .next()?
                .strip_suffix(".conf")?
                .parse()
                .ok()?;
            Some((vmid, api_config(body)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_splits_into_configs_with_pve_digests() {
        let a =
            "# note\nname: a\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\n\n[snap]\nname: old\n";
        let b = "hostname: ct\n";
        let dump = format!(
            "\u{1e}/etc/pve/nodes/pve1/qemu-server/100.conf\n{a}\u{1e}/etc/pve/nodes/pve2/lxc/200.conf\n{b}"
        );
        let all = parse_dump(&dump);
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[&100].get("name"),
            Some("a"),
            "the main section wins over the snapshot"
        );
        assert_eq!(all[&200].get("hostname"), Some("ct"));
        // The digest is over the file as written (`printf 'hostname: ct\n' | sha1sum`).
        assert_eq!(
            all[&200].digest.as_deref(),
            Some("8c68cabe3a60941c885548dfd96dee5a446e97dc")
        );
    }
}
