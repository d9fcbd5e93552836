//! What the client returns, and every PVE typing quirk absorbed in one place.
//!
//! PVE's API is Perl underneath (reference §5.3): booleans are `0/1`, some integers arrive
//! as strings (`/cluster/nextid` → `"104"`, `memory: "2048"` in configs, LXC `vmid` before
//! PVE 8.2), `loadavg` is a list of strings, key order is random, and a guest without RRD
//! data (just created, mid-clone, on an offline node) has only `id, vmid, node, type,
//! status:"unknown"`. The [`lenient`] readers accept all of these; missing figures are 0.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Error;

/// QEMU virtual machine or LXC container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    Qemu,
    Lxc,
}

impl GuestKind {
    /// The path segment and `type` value: `qemu` or `lxc`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }
}

/// A guest entry of `GET /cluster/resources?type=vm`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GuestResource {
    #[serde(deserialize_with = "lenient::u32")]
    pub vmid: u32,
    pub node: String,
    #[serde(rename = "type")]
    pub kind: GuestKind,
    #[serde(default = "unknown")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub template: bool,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub uptime: u64,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub cpu: f64,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub maxcpu: f64,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub mem: u64,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub maxmem: u64,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub maxdisk: u64,
    /// Cumulative bytes received and sent since the guest started (for the idle policy).
    #[serde(default, deserialize_with = "lenient::u64")]
    pub netin: u64,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub netout: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub lock: Option<String>,
    /// `;`-separated as in the config (`lab;web`).
    #[serde(default, deserialize_with = "lenient::text")]
    pub tags: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub pool: Option<String>,
}

fn unknown() -> String {
    "unknown".into()
}

/// An entry of `GET /nodes`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NodeInfo {
    pub node: String,
    /// `status` is `online`, `offline` or `unknown`.
    #[serde(rename = "status", default, deserialize_with = "lenient::online")]
    pub online: bool,
    #[serde(default, deserialize_with = "lenient::f64")]
    pub cpu: f64,
    #[serde(default, deserialize_with = "lenient::u32")]
    pub maxcpu: u32,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub mem: u64,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub maxmem: u64,
    /// Seconds since the node booted (absent while offline).
    #[serde(default, deserialize_with = "lenient::u64")]
    pub uptime: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub ssl_fingerprint: Option<String>,
}

/// A `type: storage` entry of `GET /cluster/resources`: one storage as one node sees it
/// (a shared storage appears once per node). Figures are absent while the node is offline
/// or the storage is not active there.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StorageResource {
    #[serde(deserialize_with = "lenient::string")]
    pub storage: String,
    #[serde(deserialize_with = "lenient::string")]
    pub node: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub plugintype: String,
    /// `available` when active on the node.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub shared: bool,
    /// Comma-separated content types (`images,rootdir`, `iso,vztmpl,backup`).
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub disk: u64,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub maxdisk: u64,
}

/// What the portal reads of `GET /nodes/{node}/status`: the version line
/// (`pve-manager/8.4.1/2a5fa54a8503f96d`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NodeStatus {
    #[serde(default, deserialize_with = "lenient::string")]
    pub pveversion: String,
}

impl NodeStatus {
    /// `8.4.1` from `pve-manager/8.4.1/2a5fa54a8503f96d`; the whole line if it looks different.
    pub fn version(&self) -> String {
        let line = self.pveversion.trim();
        line.strip_prefix("pve-manager/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(line)
            .to_string()
    }
}

/// A `type: node` entry of `GET /cluster/status`: where to reach a node (for SSH).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClusterMember {
    pub name: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub ip: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub online: bool,
}

/// `GET /nodes/{node}/storage/{storage}/status`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StorageStatus {
    #[serde(default, deserialize_with = "lenient::u64")]
    pub total: u64,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub avail: u64,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub shared: bool,
    /// The storage plugin: `dir`, `nfs`, `cifs`, `lvm`, `lvmthin`, `zfspool`, `rbd`, …
    #[serde(default, rename = "type")]
    pub plugin: String,
}

/// `GET …/{qemu|lxc}/{vmid}/config`: every key with its value as text, sorted by key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuestConfig {
    pub entries: Vec<(String, String)>,
    /// SHA-1 of the config file, for optimistic locking on writes.
    pub digest: Option<String>,
}

impl GuestConfig {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn from_data(data: Value) -> Result<Self, Error> {
        let Value::Object(map) = data else {
            return Err(Error::Decode("config is not an object".into()));
        };
        let mut config = GuestConfig::default();
        for (key, value) in map {
            let Some(text) = lenient::to_text(&value) else {
                continue;
            };
            if key == "digest" {
                config.digest = Some(text);
            } else {
                config.entries.push((key, text));
            }
        }
        config.entries.sort();
        Ok(config)
    }
}

/// A guest's network interface with its usable addresses (no loopback, no link-local).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetInterface {
    pub name: String,
    pub mac: Option<String>,
    pub ips: Vec<IpAddr>,
}

fn usable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unicast_link_local() && !v6.is_unspecified(),
    }
}

/// `10.0.0.5/24` → `10.0.0.5`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    text.split('/').next()?.trim().parse().ok()
}

/// One interface from the guest agent (`ip-addresses[].ip-address`, type `ipv4`/`ipv6`) or
/// from LXC's `ip --json a` (`inet`/`inet6` as `addr/prefix`, plus `ip-addresses` with type
/// `inet`/`inet6` on newer PVE); both spell the MAC `hardware-address`, LXC also `hwaddr`.
fn interface(v: &Value) -> Option<NetInterface> {
    let name = v.get("name")?.as_str()?.to_string();
    if name == "lo" {
        return None;
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str);
    let mac = text("hardware-address")
        .or_else(|| text("hwaddr"))
        .map(str::to_string);
    let listed = v
        .get("ip-addresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("ip-address")?.as_str());
    let mut ips: Vec<IpAddr> = Vec::new();
    for ip in listed
        .chain(text("inet"))
        .chain(text("inet6"))
        .filter_map(parse_ip)
    {
        if usable(&ip) && !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    Some(NetInterface { name, mac, ips })
}

/// `network-get-interfaces` answers `{"result": [...]}`; an agent lacking the command
/// answers HTTP 200 with `{"result": {"error": {...}}}`.
pub(crate) fn agent_interfaces(data: Value) -> Result<Vec<NetInterface>, Error> {
    let result = data.get("result").unwrap_or(&Value::Null);
    if let Some(err) = result.get("error") {
        let desc = err.get("desc").and_then(Value::as_str).unwrap_or("error");
        return Err(Error::Decode(format!("guest agent: {desc}")));
    }
    let list = result
        .as_array()
        .ok_or_else(|| Error::Decode("agent interfaces are not a list".into()))?;
    Ok(list.iter().filter_map(interface).collect())
}

/// `GET …/lxc/{vmid}/interfaces`: a list, or `null` while the container is stopped.
pub(crate) fn lxc_interfaces(data: Value) -> Result<Vec<NetInterface>, Error> {
    match data {
        Value::Null => Ok(Vec::new()),
        Value::Array(list) => Ok(list.iter().filter_map(interface).collect()),
        _ => Err(Error::Decode("container interfaces are not a list".into())),
    }
}

/// A guest power operation (each starts a task and returns its UPID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerAction {
    Start,
    Shutdown,
    Stop,
    Reboot,
}

impl PowerAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PowerAction::Start => "start",
            PowerAction::Shutdown => "shutdown",
            PowerAction::Stop => "stop",
            PowerAction::Reboot => "reboot",
        }
    }
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaskStatus {
    /// `status` is `running` or `stopped`.
    #[serde(rename = "status", deserialize_with = "lenient::running")]
    pub running: bool,
    /// `OK`, `WARNINGS: n`, or the error text; only once stopped.
    #[serde(default, deserialize_with = "lenient::text")]
    pub exitstatus: Option<String>,
}

impl TaskStatus {
    /// `None` while running; then whether the task succeeded (`OK` or `WARNINGS: n`).
    pub fn succeeded(&self) -> Option<bool> {
        if self.running {
            return None;
        }
        let exit = self.exitstatus.as_deref().unwrap_or("");
        Some(exit == "OK" || exit.starts_with("WARNINGS"))
    }
}

/// `groups` is an array in `GET /access/users/{id}`, a comma list in `GET /access/users`;
/// `members` of `GET /access/groups/{id}` is an array.
pub(crate) fn groups(v: Option<&Value>) -> Vec<String> {
    let names: Vec<&str> = match v {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => s.split(',').collect(),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect()
}

/// `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Version {
    #[serde(deserialize_with = "lenient::string")]
    pub version: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub release: String,
}

/// `POST …/termproxy`, as PVE sends it: `port` is a number on current servers and a string on
/// some (the same Perl quirk as `vncproxy`); `user` is the identity the ticket is bound to
/// (`portal@pve!lab` for a token), which the terminal's first line must repeat. The ticket
/// is moved into a secret right away ([`super::TermTicket`]).
#[derive(Deserialize)]
pub(crate) struct TermProxyReply {
    #[serde(deserialize_with = "lenient::u16")]
    pub port: u16,
    pub ticket: String,
    #[serde(deserialize_with = "lenient::string")]
    pub user: String,
}

/// Readers that take what Perl sends.
/// One entry of `GET …/snapshot` (the `current` pseudo entry included).
#[derive(Clone, Debug, Deserialize)]
pub struct SnapshotEntry {
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub snaptime: u64,
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: String,
    /// 0/1 (QEMU only).
    #[serde(default, deserialize_with = "lenient::flag")]
    pub vmstate: bool,
    #[serde(default, deserialize_with = "lenient::text")]
    pub parent: Option<String>,
}

/// One ISO of `GET …/storage/{s}/content?content=iso`.
#[derive(Clone, Debug, Deserialize)]
pub struct IsoEntry {
    /// `local:iso/debian-12.7.0-amd64-netinst.iso`.
    #[serde(deserialize_with = "lenient::string")]
    pub volid: String,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub size: u64,
    #[serde(default, deserialize_with = "lenient::u64")]
    pub ctime: u64,
}

mod lenient {
    use serde::{Deserialize, Deserializer, de::Error as _};
    use serde_json::Value;

    /// Strings as they are, numbers and booleans as text (`1`, not `true`); `null` is none.
    pub(super) fn to_text(v: &Value) -> Option<String> {
        match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
            Value::Number(n) => Some(n.to_string()),
            other => Some(other.to_string()),
        }
    }

    fn number(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    pub(super) fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(number(&Value::deserialize(d)?).unwrap_or(0.0))
    }

    pub(super) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let v = Value::deserialize(d)?;
        let exact = match &v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        // Negative or fractional figures: clamp and truncate rather than fail.
        Ok(exact.unwrap_or_else(|| number(&v).unwrap_or(0.0).max(0.0) as u64))
    }

    pub(super) fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let n = u64(d)?;
        u32::try_from(n).map_err(|_| D::Error::custom(format!("{n} is out of range")))
    }

    pub(super) fn u16<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        let n = u64(d)?;
        u16::try_from(n).map_err(|_| D::Error::custom(format!("{n} is out of range")))
    }

    pub(super) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Bool(b) => b,
            Value::String(s) => matches!(s.trim(), "1" | "true" | "yes" | "on"),
            v => number(&v).is_some_and(|n| n != 0.0),
        })
    }

    pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(to_text(&Value::deserialize(d)?))
    }

    pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(text(d)?.unwrap_or_default())
    }

    pub(super) fn online<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(text(d)?.as_deref() == Some("online"))
    }

    pub(super) fn running<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(text(d)?.as_deref() == Some("running"))
    }
}

/// `GET /cluster/resources?type=vm`, decoded entry by entry: at 10 000 guests a whole JSON
/// tree of the answer cost about 20 MB per call (every 5 s); this keeps one entry's tree at a
/// time. Entries that are not guests (older servers ignore `type=vm`) are skipped; a guest
/// entry that does not parse is an error, never silently dropped (the sync would take a
/// dropped guest for a deleted one).
pub(crate) fn decode_guests(
    status: reqwest::StatusCode,
    reason: Option<&str>,
    body: &[u8],
) -> Result<Vec<GuestResource>, super::Error> {
    if !status.is_success() {
        return super::error::decode_envelope(status, reason, body).map(|_| Vec::new());
    }
    #[derive(Deserialize)]
    struct Envelope {
        data: Guests,
    }
    serde_json::from_slice::<Envelope>(body)
        .map(|e| e.data.0)
        .map_err(|e| super::Error::Decode(format!("cluster resources: {e}")))
}

struct Guests(Vec<GuestResource>);

impl<'de> Deserialize<'de> for Guests {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Guests;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of resources")
            }
            fn visit_unit<E>(self) -> Result<Guests, E> {
                Ok(Guests(Vec::new()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Guests, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(entry) = seq.next_element::<serde_json::Value>()? {
                    let kind = entry.get("type").and_then(serde_json::Value::as_str);
                    if matches!(kind, Some("qemu" | "lxc")) {
                        out.push(
                            GuestResource::deserialize(entry).map_err(serde::de::Error::custom)?,
                        );
                    }
                }
                Ok(Guests(out))
            }
        }
        d.deserialize_any(Entries)
    }
}
