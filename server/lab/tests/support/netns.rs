//! A throw-away network namespace joined to this host by a veth pair, a /30 on each side
//! (`10.249.N.1` here, `10.249.N.2` inside): a "VM" address that is neither loopback nor this
//! host's, for the SSH subnet rule and the nmap sweep. Removed on drop. Needs root and `ip`.
//!
//! Each namespace takes its own `N` (a counter from `first_octet`), so the tests of one binary
//! can run side by side; names carry the process id, so a crashed run's leftovers never clash.

#![allow(dead_code)]

use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

pub struct Netns {
    pub name: String,
    host_if: String,
    /// The namespace's end: the address a test "VM" has.
    pub inside: IpAddr,
    /// The /30 both ends are in.
    pub subnet: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("the ip command");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

static NEXT: AtomicU8 = AtomicU8::new(0);

impl Netns {
    /// A namespace on `10.249.N.0/30`, `N` = `first_octet` plus how many this process made.
    pub fn new(first_octet: u8, mac: Option<&str>) -> Netns {
        let octet = first_octet
            .checked_add(NEXT.fetch_add(1, Ordering::SeqCst))
            .expect("too many namespaces");
        let id = std::process::id() % 100_000;
        let name = format!("pl{id}n{octet}");
        let host_if = format!("plh{id}n{octet}");
        let peer = format!("pln{id}n{octet}");
        ip(&["netns", "add", &name]);
        let ns = Netns {
            name: name.clone(),
            host_if: host_if.clone(),
            inside: format!("10.249.{octet}.2").parse().unwrap(),
            subnet: format!("10.249.{octet}.0/30"),
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &name]);
        ip(&[
            "addr",
            "add",
            &format!("10.249.{octet}.1/30"),
            "dev",
            &host_if,
        ]);
        ip(&["link", "set", &host_if, "up"]);
        if let Some(mac) = mac {
            ip(&["-n", &name, "link", "set", &peer, "address", mac]);
        }
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{}/30", ns.inside),
            "dev",
            &peer,
        ]);
        ip(&["-n", &name, "link", "set", &peer, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
