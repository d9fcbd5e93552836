//! The command line (clap).

use clap::{Args, Parser, Subcommand};
use lab::model::{JobFilter, Role};
use std::path::PathBuf;

/// Proxlab: a self-hosted lab portal for Proxmox VE.
#[derive(Debug, Parser)]
#[command(name = "proxlab", version, about)]
pub struct Cli {
    /// A TOML settings file (see README: Settings). Environment variables `PROXLAB_*` override it.
    #[arg(long, global = true, env = "PROXLAB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the portal (the default).
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Manage local accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage Proxmox VE clusters.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// See and cancel the job engine's jobs (deploy, reset, publish, …), as on the admin's
    /// Jobs page.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Try Proxlab without Proxmox: a simulated 3-node cluster, a fresh database and demo
    /// accounts (their passwords are printed).
    Demo(Demo),
    /// Print a fresh one-time link to create the first admin (while no admin exists). Links
    /// printed before stop working.
    SetupLink,
    /// Write the whole database to FILE while the portal runs (SQLite: a consistent copy;
    /// PostgreSQL: pg_dump's custom format).
    Backup {
        /// A new file.
        file: PathBuf,
    },
    /// Put a backup back, then bring its schema up to date. Refuses while a portal runs on
    /// the database; a SQLite file it replaces is kept beside it.
    Restore {
        /// A file written by `proxlab backup`.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Connect a cluster. The secret comes from stdin (--secret-stdin) or an environment
    /// variable (--secret-env), never from the command line.
    Add(Box<ClusterAdd>),
    /// List clusters and their last sync.
    List,
    /// Log in and count nodes and guests.
    Test { name: String },
    /// Disconnect a cluster (its VMs in Proxmox are untouched).
    Remove { name: String },
}

#[derive(Debug, Args)]
pub struct ClusterAdd {
    pub name: String,
    /// API address of a node, e.g. https://10.0.0.1:8006; repeat for failover.
    #[arg(long = "url", required = true)]
    pub urls: Vec<String>,
    /// API token id, user@realm!tokenid (preferred).
    #[arg(long, conflicts_with = "user", required_unless_present = "user")]
    pub token_id: Option<String>,
    /// Or a user, user@realm, with a password.
    #[arg(long)]
    pub user: Option<String>,
    /// Read the token secret or password from the first line of stdin.
    #[arg(long, conflicts_with = "secret_env")]
    pub secret_stdin: bool,
    /// Read the token secret or password from this environment variable.
    #[arg(long)]
    pub secret_env: Option<String>,
    /// The certificate's SHA-256 fingerprint; without it, it is fetched, shown, and must be
    /// confirmed on the terminal.
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Trust the system's CA roots instead of pinning a fingerprint.
    #[arg(long, conflicts_with = "fingerprint")]
    pub system_ca: bool,
    /// Proxmox group whose members sign in as portal admins (without it: only root@pam).
    #[arg(long)]
    pub admin_group: Option<String>,
    /// Proxmox group whose members sign in as teachers.
    #[arg(long)]
    pub teacher_group: Option<String>,
    /// Proxmox group whose members sign in as students.
    #[arg(long)]
    pub student_group: Option<String>,
    /// Subnets (CIDR, comma-separated) of the VMs, for SSH through the portal (off without).
    #[arg(long)]
    pub vm_subnets: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first (at most 200).
    List {
        /// Which: active (queued, running or cancelling), failed, or all.
        #[arg(long, default_value = "active", value_parser = parse_filter)]
        state: JobFilter,
    },
    /// Everything about one job.
    Show { id: i32 },
    /// Cancel a queued job, or a running deploy (it keeps the VMs it made).
    Cancel { id: i32 },
}

fn parse_filter(s: &str) -> Result<JobFilter, String> {
    JobFilter::parse(s).ok_or_else(|| format!("unknown state {s:?}: use active, failed or all"))
}

#[derive(Debug, Args)]
pub struct Demo {
    /// Keep the demo's files here (default: a new temporary folder, removed at exit).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Simulated VMs (besides 4 templates and 3 containers).
    #[arg(long, default_value_t = 60)]
    pub vms: usize,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is asked for, or read from stdin with --password-stdin.
    Add(UserAdd),
    /// Set a new password for an account (ends its sessions).
    SetPassword(SetPassword),
}

#[derive(Debug, Args)]
pub struct UserAdd {
    /// Username: letters, digits, '.', '-', '_' (no '@').
    pub name: String,
    #[arg(long)]
    pub role: Role,
    #[arg(long, default_value = "")]
    pub display_name: String,
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct SetPassword {
    pub name: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}
