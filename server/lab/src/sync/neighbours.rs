//! The portal host's neighbour table (`/proc/net/arp`): a guest without an agent is often
//! still known by its MAC to a portal on the same network. Read-only; nothing is probed.

use std::collections::HashMap;
use std::net::IpAddr;

/// Linux's ARP table, by lower-case MAC. Incomplete entries (flags 0x0, MAC all zeros) are
/// skipped.
pub fn parse_arp(text: &str) -> HashMap<String, IpAddr> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (ip, flags, mac) = (cols.first()?, cols.get(2)?, cols.get(3)?);
            let ip: IpAddr = ip.parse().ok()?;
            (*flags != "0x0" && *mac != "00:00:00:00:00:00").then(|| (mac.to_ascii_lowercase(), ip))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_entries_only() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
                    192.168.1.20     0x1         0x2         BC:24:11:AA:00:01     *        vmbr0\n\
                    192.168.1.21     0x1         0x0         00:00:00:00:00:00     *        vmbr0\n\
                    garbage\n";
        let table = parse_arp(text);
        assert_eq!(table.len(), 1);
        assert_eq!(table["bc:24:11:aa:00:01"].to_string(), "192.168.1.20");
    }
}
