//! The command line (clap).

use clap::{Args, Parser, Subcommand};
use lab::model::Role;
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
