//! `pvesim`: run the Proxmox VE simulator as a standalone HTTPS server.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use pvesim::{ExtraStorage, Profile, PveVersion, SeedDisks, Sim, SimConfig};

/// A Proxmox VE 8/9 API simulator: HTTPS on /api2/json with tickets, API tokens, tasks,
/// guest configs as real files under --root, consoles (noVNC/xterm.js) and a control API
/// under /_sim/ for faults and call counters.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Number of nodes (pve1, pve2, ...).
    #[arg(long, default_value_t = 3, env = "PVESIM_NODES")]
    nodes: usize,
    /// Ordinary QEMU guests to seed (VMIDs from 100, spread over the nodes, every other one running).
    #[arg(long, default_value_t = 20, env = "PVESIM_VMS")]
    vms: usize,
    /// Templates to seed (VMIDs from 9000 on pve1, base disks on --template-storage).
    #[arg(long, default_value_t = 2, env = "PVESIM_TEMPLATES")]
    templates: usize,
    /// LXC containers to seed (VMIDs from 5000).
    #[arg(long, default_value_t = 1, env = "PVESIM_CONTAINERS")]
    containers: usize,
    /// Seed the cluster of proxmox-fixtures.json (VMs 100-103, 301, template 9000, CT 200, pve3 offline) instead.
    #[arg(long)]
    fixture_world: bool,
    /// Folder holding etc/pve, var/lib/vz and mnt/pve (kept between runs; seeded only when it has no guest configs).
    #[arg(long, default_value = "/tmp/pvesim", env = "PVESIM_ROOT")]
    root: PathBuf,
    /// Address to listen on (only loopback is sensible for a test tool).
    #[arg(long, default_value = "127.0.0.1", env = "PVESIM_BIND")]
    bind: std::net::IpAddr,
    /// HTTPS port (0 picks a free one).
    #[arg(long, default_value_t = 8006, env = "PVESIM_PORT")]
    port: u16,
    /// root@pam's password (random and printed when not given).
    #[arg(long, env = "PVESIM_PASSWORD")]
    password: Option<String>,
    /// Password of the seeded @pve users student1, student2, teacher1, portal (random when not given).
    #[arg(long, env = "PVESIM_USER_PASSWORD")]
    user_password: Option<String>,
    /// Secret (UUID) of the seeded API token root@pam!pvesim (random when not given).
    #[arg(long, env = "PVESIM_TOKEN_SECRET")]
    token_secret: Option<String>,
    /// PVE version to imitate.
    #[arg(long, value_enum, default_value_t = Version::V9)]
    pve_version: Version,
    /// Load profile of the simulated guests.
    #[arg(long, value_enum, default_value_t = Load::Idle)]
    profile: Load,
    /// Delay of every 401 answer in milliseconds (PVE: 3000).
    #[arg(long, default_value_t = 3000)]
    unauthorized_delay_ms: u64,
    /// Multiplier of task durations (1 = realistic seconds, 0.1 = ten times faster).
    #[arg(long, default_value_t = 1.0)]
    task_time_scale: f64,
    /// Seconds after start before a guest's agent answers (and its IP shows).
    #[arg(long, default_value_t = 8.0)]
    agent_boot_delay: f64,
    /// Added latency per API call in milliseconds (a fault; also settable via /_sim/latency).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Nodes to start offline (595 on calls to them), e.g. --offline pve3.
    #[arg(long)]
    offline: Vec<String>,
    /// Guests whose QEMU guest agent never answers (repeatable), e.g. --agent-absent 101.
    #[arg(long)]
    agent_absent: Vec<u32>,
    /// Leave out the `message` field of error bodies (libpve-http-server < 5.2.0).
    #[arg(long)]
    no_message_field: bool,
    /// Add the separate VNC `password` of qemu-server >= 9.1.7 to vncproxy answers.
    #[arg(long)]
    vnc_password_field: bool,
    /// Storages beside a stock node's `local` and `local-lvm` (repeatable or comma-separated).
    #[arg(long = "storage", value_enum, value_delimiter = ',')]
    storages: Vec<Extra>,
    /// Where the templates' disks are (a stock install keeps them on local-lvm).
    #[arg(long, default_value = "local-lvm")]
    template_storage: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Extra {
    /// local-zfs (zfspool)
    Zfs,
    /// ceph (rbd, shared)
    Ceph,
    /// shared + isos (nfs)
    Nfs,
    /// vmdata (plain LVM)
    Lvm,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Version {
    V8,
    V9,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Load {
    Idle,
    Busy,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let a = Args::parse();
    let cfg = SimConfig {
        root: a.root.clone(),
        listen: (a.bind, a.port).into(),
        nodes: a.nodes,
        vms: a.vms,
        templates: a.templates,
        containers: a.containers,
        fixture_world: a.fixture_world,
        root_password: a.password,
        user_password: a.user_password,
        token_secret: a.token_secret,
        unauthorized_delay: Duration::from_millis(a.unauthorized_delay_ms),
        task_time_scale: a.task_time_scale,
        agent_boot_delay: Duration::from_secs_f64(a.agent_boot_delay),
        profile: match a.profile {
            Load::Idle => Profile::Idle,
            Load::Busy => Profile::Busy,
        },
        version: match a.pve_version {
            Version::V8 => PveVersion::V8,
            Version::V9 => PveVersion::V9,
        },
        message_field: !a.no_message_field,
        vnc_password_field: a.vnc_password_field,
        seed_disks: if a.vms <= 200 {
            SeedDisks::All
        } else {
            SeedDisks::TemplatesOnly
        },
        extra_storages: a
            .storages
            .iter()
            .map(|e| match e {
                Extra::Zfs => ExtraStorage::LocalZfs,
                Extra::Ceph => ExtraStorage::Ceph,
                Extra::Nfs => ExtraStorage::Nfs,
                Extra::Lvm => ExtraStorage::Lvm,
            })
            .collect(),
        template_storage: a.template_storage.clone(),
        ..SimConfig::default()
    };
    let started = std::time::Instant::now();
    let sim = Sim::start(cfg).with_context(|| {
        format!(
            "starting pvesim on {}:{} with root {}",
            a.bind,
            a.port,
            a.root.display()
        )
    })?;
    for node in &a.offline {
        anyhow::ensure!(
            sim.control()
                .set_node_state(node, pvesim::NodeState::Offline),
            "unknown node {node}"
        );
    }
    for vmid in &a.agent_absent {
        sim.control().set_agent(*vmid, pvesim::AgentMode::Absent);
    }
    sim.control()
        .set_latency(Duration::from_millis(a.latency_ms));
    println!(
        "pvesim listening on {} ({} guests, started in {:.1?})",
        sim.api_url(),
        sim.control().guest_count(),
        started.elapsed()
    );
    println!("fingerprint:  {}", sim.fingerprint());
    println!("root@pam:     {}", sim.root_password());
    println!(
        "@pve users:   student1 student2 teacher1 portal / {}",
        sim.user_password()
    );
    println!("API token:    PVEAPIToken={}", sim.token());
    println!("control API:  {}/_sim/info", sim.url());
    sim.wait();
    Ok(())
}
