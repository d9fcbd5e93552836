//! Start-up settings of a simulator: the shape of the seeded cluster and its timing.
//!
//! Defaults follow real PVE (3 s delay on 401, 2 h tickets, 3 s guest-agent timeout);
//! [`SimConfig::for_tests`] shortens the waits that would only slow a test suite down and
//! says so, so that a test which depends on real timing sets it back explicitly.

use std::path::PathBuf;
use std::time::Duration;

/// PVE major version whose wire details the simulator reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PveVersion {
    /// PVE 8.4: `sdn` resources, no `memhost`/`pressure*` fields.
    V8,
    /// PVE 9.1: `network` resources, `memhost`, `pressure*`.
    V9,
}

/// Load profile feeding the simulated cpu/memory/network figures and `rrddata`: the
/// simulator's ([`SimConfig::profile`]), or a guest's own ([`crate::Control::set_load`],
/// `PUT /_sim/guests/{vmid}/load`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Idle guests: a few percent CPU, a third of their memory.
    Idle,
    /// Busy guests: most of their CPU, most of their memory.
    Busy,
}

/// Which guests the seed gives real disk files (made with `qemu-img`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedDisks {
    /// Templates and ordinary guests.
    All,
    /// Only templates (big seeds: 10 000 qcow2 files would take minutes and gigabytes).
    TemplatesOnly,
}

/// Storages beyond a stock node's `local` (dir: ISOs, container templates, backups,
/// snippets, images) and `local-lvm` (lvmthin: images, rootdir).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraStorage {
    /// `local-zfs` (zfspool), as an install on ZFS has it (node-local).
    LocalZfs,
    /// `ceph` (rbd), one pool shared by every node.
    Ceph,
    /// `shared` (nfs: qcow2 images, backups) and `isos` (nfs: ISOs, container templates).
    Nfs,
    /// `vmdata` (plain, thick LVM: no snapshots, no templates, no linked clones).
    Lvm,
}

/// Everything a simulator needs to start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Folder holding `etc/pve`, `var/lib/vz` and `mnt/pve`; created if missing.
    pub root: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    pub listen: std::net::SocketAddr,
    /// Number of nodes, named `pve1`, `pve2`, ...
    pub nodes: usize,
    /// Ordinary QEMU guests to seed (VMIDs from 100 on, spread over the nodes).
    pub vms: usize,
    /// Templates to seed (VMIDs from 9000 on, on `pve1`, disks on the shared storage).
    pub templates: usize,
    /// LXC containers to seed (VMIDs from 5000 on).
    pub containers: usize,
    /// Seed the exact world of `proxmox-fixtures.json` (VMs 100-103, 9000, CT 200, ...)
    /// instead of the generated one.
    pub fixture_world: bool,
    /// `root@pam`'s password; random when `None`.
    pub root_password: Option<String>,
    /// Password of the seeded `@pve` users; random when `None`.
    pub user_password: Option<String>,
    /// Secret of the seeded API token `root@pam!pvesim`; random UUID when `None`.
    pub token_secret: Option<String>,
    /// Delay before every 401 answer (PVE: 3 s).
    pub unauthorized_delay: Duration,
    /// Multiplier for task durations (1.0 = realistic seconds).
    pub task_time_scale: f64,
    /// How long the guest agent needs after start before it answers (and an IP appears).
    pub agent_boot_delay: Duration,
    /// How long an agent call waits for a guest agent that does not answer (PVE: 3 s).
    pub agent_timeout: Duration,
    /// How long a config write waits for a held config lock (PVE: 10 s).
    pub lock_timeout: Duration,
    /// How long a call to a hanging node (`NodeState::Timeout`) waits before its 596
    /// (pveproxy's proxy timeout: 30 s).
    pub proxy_timeout: Duration,
    /// Load profile.
    pub profile: Profile,
    /// PVE version to imitate.
    pub version: PveVersion,
    /// Send the `message` field in error bodies (libpve-http-server >= 5.2.0); off imitates
    /// older 8.x servers that only put the text in the status line.
    pub message_field: bool,
    /// Give vncproxy answers the separate `password` field of qemu-server >= 9.1.7.
    pub vnc_password_field: bool,
    /// Which seeded guests get real disk files.
    pub seed_disks: SeedDisks,
    /// IP address reported for every node (loopback, so SSH from a demo stays local).
    pub node_ip: String,
    /// Storages beside `local` and `local-lvm`.
    pub extra_storages: Vec<ExtraStorage>,
    /// Where the templates keep their disks (the generated world's, and the fixture
    /// world's 9000).
    pub template_storage: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            root: std::env::temp_dir().join("pvesim"),
            listen: ([127, 0, 0, 1], 0).into(),
            nodes: 3,
            vms: 20,
            templates: 2,
            containers: 1,
            fixture_world: false,
            root_password: None,
            user_password: None,
            token_secret: None,
            unauthorized_delay: Duration::from_secs(3),
            task_time_scale: 1.0,
            agent_boot_delay: Duration::from_secs(8),
            agent_timeout: Duration::from_secs(3),
            lock_timeout: Duration::from_secs(10),
            proxy_timeout: Duration::from_secs(30),
            profile: Profile::Idle,
            version: PveVersion::V9,
            message_field: true,
            vnc_password_field: false,
            seed_disks: SeedDisks::All,
            node_ip: "127.0.0.1".into(),
            // A stock install: `local` and `local-lvm` only, templates on `local-lvm`.
            extra_storages: Vec::new(),
            template_storage: "local-lvm".into(),
        }
    }
}

impl SimConfig {
    /// Settings for test suites: the fixture world under `root`, fixed passwords
    /// (`secret`), no 401 delay, tasks 20x faster, agent answering after 0.3 s and 0.5 s
    /// agent, lock and proxy timeouts.
    pub fn for_tests(root: impl Into<PathBuf>) -> Self {
        SimConfig {
            root: root.into(),
            fixture_world: true,
            root_password: Some("secret".into()),
            user_password: Some("secret".into()),
            token_secret: Some("3f5c2d1e-8a4b-4c6d-9e7f-0a1b2c3d4e5f".into()),
            unauthorized_delay: Duration::ZERO,
            task_time_scale: 0.05,
            agent_boot_delay: Duration::from_millis(300),
            agent_timeout: Duration::from_millis(500),
            lock_timeout: Duration::from_millis(500),
            proxy_timeout: Duration::from_millis(500),
            // The fixture world's template 9000 is on `local` (a dir storage), and the tests'
            // overlay classes use the shared NFS storage too.
            template_storage: "local".into(),
            extra_storages: vec![ExtraStorage::Nfs],
            ..SimConfig::default()
        }
    }

    /// A task's simulated duration after scaling.
    pub(crate) fn scaled(&self, secs: f64) -> Duration {
        Duration::from_secs_f64((secs * self.task_time_scale).max(0.0))
    }
}
