//! The simulated cluster: nodes, storages, users, pools, guest configs (files, see
//! [`store`]) and the runtime state that PVE keeps in memory (power state, tasks, consoles).
//!
//! Everything mutable sits in one [`Inner`] behind one mutex in [`State`]: calls are short,
//! nothing awaits while holding it, and one lock makes every answer a consistent snapshot,
//! as pmxcfs' in-memory copy is.

pub(crate) mod blocks;
pub(crate) mod conf;
pub(crate) mod disks;
pub(crate) mod metrics;
pub(crate) mod perms;
pub(crate) mod roles;
pub(crate) mod seed;
pub(crate) mod storage;
pub(crate) mod store;
pub(crate) mod tasks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::SimConfig;
use crate::control::Faults;
pub(crate) use storage::Storage;
use store::Store;
use tasks::Tasks;

/// How a node answers when the API is asked to proxy to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Up and answering.
    Online,
    /// Down: pveproxy gets "No route to host" at once (HTTP 595).
    Offline,
    /// Unreachable with a hanging connection: 596 after the proxy timeout.
    Timeout,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub nodeid: u32,
    pub state: NodeState,
    pub maxcpu: u32,
    pub maxmem: u64,
    pub maxdisk: u64,
    /// Sim-clock epoch the node booted at.
    pub boot: u64,
    pub fingerprint: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub secret: String,
    pub privsep: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct User {
    pub password: String,
    pub enable: bool,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub comment: Option<String>,
    pub tokens: BTreeMap<String, Token>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    pub comment: Option<String>,
    pub users: Vec<String>,
}

/// Whom an ACL entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AclKind {
    User,
    Group,
    Token,
}

impl AclKind {
    /// The `type` of `GET /access/acl`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AclKind::User => "user",
            AclKind::Group => "group",
            AclKind::Token => "token",
        }
    }
}

/// One ACL entry (`/access/acl`, a line `acl:<propagate>:<path>:<ugid>:<role>:` of
/// `user.cfg`); `path` is normalised.
#[derive(Debug, Clone)]
pub(crate) struct Acl {
    pub path: String,
    pub kind: AclKind,
    pub ugid: String,
    pub role: String,
    pub propagate: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Pool {
    pub comment: Option<String>,
    pub vms: Vec<u32>,
    pub storages: Vec<String>,
}

/// Whether a guest's QEMU guest agent answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentMode {
    /// Answers once the guest has booted (after the configured boot delay).
    Normal,
    /// Never answers ("QEMU guest agent is not running" after the timeout).
    Absent,
    /// Answers, but each call takes this long.
    Slow(Duration),
}

/// Power state of a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Power {
    Stopped,
    Running,
    Paused,
}

#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    pub power: Power,
    /// Sim-clock epoch of the last start (uptime base).
    pub started: u64,
    pub pid: u32,
    pub agent: AgentMode,
    /// A task holds the config lock (the node-local flock in PVE).
    pub flock: bool,
    /// Real time of the last (re)start, for the guest agent's boot delay.
    pub since: Option<std::time::Instant>,
    /// The guest's own load profile and its history (`PUT /_sim/guests/{vmid}/load`).
    pub load: metrics::LoadLog,
}

impl Runtime {
    pub(crate) fn new(pid: u32) -> Self {
        Runtime {
            power: Power::Stopped,
            started: 0,
            pid,
            agent: AgentMode::Normal,
            flock: false,
            since: None,
            load: metrics::LoadLog::default(),
        }
    }
}

/// An issued VNC/terminal ticket waiting for its websocket.
#[derive(Debug, Clone)]
pub(crate) struct Console {
    pub authid: String,
    pub port: u16,
    pub vmid: Option<u32>,
    pub node: String,
    pub password: String,
    pub terminal: bool,
    pub created: u64,
}

/// All mutable state.
pub(crate) struct Inner {
    pub nodes: Vec<Node>,
    pub storages: Vec<Storage>,
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub pools: BTreeMap<String, Pool>,
    pub acl: Vec<Acl>,
    /// Every role by ID: PVE's generated ones ([`roles::builtin`]) and custom ones.
    pub roles: BTreeMap<String, roles::PrivSet>,
    pub store: Store,
    /// Volumes of the block storages (files hold the others' volumes).
    pub blocks: blocks::BlockVolumes,
    pub runtime: HashMap<u32, Runtime>,
    pub tasks: Tasks,
    pub consoles: Vec<Console>,
    /// Finished guest-agent `exec` calls by pid (`exec-status` answers).
    pub execs: HashMap<u32, serde_json::Value>,
    /// HA-managed guests and their requested state (metadata only: no HA manager runs).
    pub ha: BTreeMap<u32, String>,
    /// Console input received so far per VMID (0 = node shells).
    pub typed: HashMap<u32, String>,
    pub next_pid: u32,
}

impl Inner {
    pub(crate) fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub(crate) fn storage(&self, id: &str) -> Option<&Storage> {
        self.storages.iter().find(|s| s.id == id)
    }

    /// Runtime state of a guest, created (stopped) on first sight as PVE would find no
    /// running process for a freshly registered config.
    pub(crate) fn rt(&mut self, vmid: u32) -> &mut Runtime {
        let pid = self.next_pid;
        if !self.runtime.contains_key(&vmid) {
            self.next_pid += 7;
        }
        self.runtime
            .entry(vmid)
            .or_insert_with(|| Runtime::new(pid))
    }

    /// Re-reads changed config files and forgets the runtime state of vanished guests.
    pub(crate) fn refresh(&mut self) {
        for vmid in self.store.refresh() {
            self.runtime.remove(&vmid);
            for pool in self.pools.values_mut() {
                pool.vms.retain(|v| *v != vmid);
            }
        }
    }

    /// Registers every block volume a config names that [`blocks::BlockVolumes`] does not
    /// hold: the seed's, and after a restart on an existing root all of them (the volume
    /// set lives in memory; volumes no config names are forgotten, a documented deviation).
    pub(crate) fn adopt_volumes(&mut self) {
        let mut found = Vec::new();
        for (_, g) in self.store.all() {
            for section in std::iter::once(&g.conf.main).chain(g.conf.snapshots.values()) {
                for (k, v) in section {
                    if !disks::is_drive_key(k) {
                        continue;
                    }
                    let Some((sid, volname)) = disks::volid_of(v).and_then(disks::split_volid)
                    else {
                        continue;
                    };
                    let size = metrics::disk_size(v).unwrap_or(0);
                    found.push((sid.to_string(), g.node.clone(), volname.to_string(), size));
                }
            }
        }
        for (sid, node, volname, size) in found {
            if let Some(s) = self.storage(&sid).filter(|s| blocks::is_block(s)).cloned() {
                self.blocks.adopt(&s, &node, &volname, size);
            }
        }
    }

    /// The pool a guest belongs to.
    pub(crate) fn pool_of(&self, vmid: u32) -> Option<&str> {
        self.pools
            .iter()
            .find(|(_, p)| p.vms.contains(&vmid))
            .map(|(id, _)| id.as_str())
    }
}

/// A clock that tests can move forward (ticket expiry) without waiting.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset: AtomicI64,
}

impl Clock {
    /// Seconds since the epoch on the simulated clock.
    pub(crate) fn now(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        (real + self.offset.load(Ordering::Relaxed)).max(0) as u64
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.offset
            .fetch_add(by.as_secs() as i64, Ordering::Relaxed);
    }
}

/// Shared state of one simulator instance.
pub(crate) struct State {
    pub cfg: SimConfig,
    pub clock: Clock,
    pub secret: [u8; 32],
    pub inner: Mutex<Inner>,
    pub faults: Mutex<Faults>,
    pub counters: Mutex<BTreeMap<String, u64>>,
    pub fingerprint: String,
    pub cert_pem: String,
    pub root_password: String,
    pub user_password: String,
    pub token_secret: String,
    pub clustername: String,
}

impl State {
    /// Locks the model; a poisoned lock (a panicking handler) is taken over, because the
    /// simulator must keep answering other tests.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }
}

/// Random bytes from the OS.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // getrandom only fails on exotic platforms without an entropy source; a simulator
    // there would still work with a time-derived fallback.
    if getrandom::fill(&mut buf).is_err() {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8 ^ i as u8;
        }
    }
    buf
}

/// A random UUID v4 string (API token secrets, smbios uuid, vmgenid).
pub(crate) fn uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = store::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A random MAC with Proxmox' OUI `BC:24:11` (proxmox/pve-cluster DataCenterConfig.pm).
pub(crate) fn mac() -> String {
    let b = random_bytes::<3>();
    format!("BC:24:11:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2])
}
