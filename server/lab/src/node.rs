//! Operations on a Proxmox node: `qemu-img` and guest config files, run through a
//! [`NodeShell`] (SSH with the `openssh` crate, or this host for a portal installed on a node
//! and for `demo`).
//!
//! Every remote action is one `sh -c` script built by [`Script`], whose arguments are quoted
//! with `shlex` (NUL bytes are refused, never passed). Batching an idempotent "check, then act"
//! into one script keeps a deployment at one or two SSH round trips per VM.

mod dump;
pub mod guest_config;
mod local;
mod ops;
mod script;
mod shells;
mod ssh;

pub use dump::read_all_configs;
pub use local::LocalShell;
pub use ops::{NodeOps, NodePaths};
pub use script::{EXIT_VMID_TAKEN, Script};
pub use shells::{NodeShells, shell_for};
pub use ssh::{SshShell, SshTarget};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What can go wrong on a node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node could not be reached (connect failure, dropped master, SSH protocol error).
    #[error("cannot reach the node over SSH: {0}")]
    Unreachable(String),
    /// The node's SSH host key is not the pinned one.
    #[error("the node's SSH host key does not match the pinned key: {0}")]
    HostKey(String),
    /// The command ran and failed; `stderr` is its own explanation.
    #[error("command failed (exit {code}): {stderr}")]
    Failed { code: i32, stderr: String },
    /// The command did not finish in time (it is killed).
    #[error("command timed out after {0:?}")]
    Timeout(Duration),
    /// An argument or path was refused before anything ran.
    #[error("{0}")]
    Invalid(String),
    #[error("local I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<NodeError> for crate::Error {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Invalid(m) => crate::Error::Invalid(m),
            NodeError::Unreachable(_) | NodeError::HostKey(_) | NodeError::Timeout(_) => {
                crate::Error::Unavailable(e.to_string())
            }
            other => crate::Error::Internal(other.to_string()),
        }
    }
}

/// Where node commands run: over SSH, or on this host; counts the commands it ran (the
/// figure deployments are measured by).
pub struct NodeShell {
    kind: ShellKind,
    commands: AtomicU64,
}

enum ShellKind {
    Local(LocalShell),
    // Boxed: the SSH shell is much larger than the local one.
    Ssh(Box<SshShell>),
}

impl NodeShell {
    pub fn local(shell: LocalShell) -> Self {
        Self {
            kind: ShellKind::Local(shell),
            commands: AtomicU64::new(0),
        }
    }

    pub fn ssh(shell: SshShell) -> Self {
        Self {
            kind: ShellKind::Ssh(Box::new(shell)),
            commands: AtomicU64::new(0),
        }
    }

    /// Runs `script` with `sh -c`, feeding `stdin`, and returns its stdout. A non-zero exit is
    /// [`NodeError::Failed`] with the script's stderr.
    pub async fn run(&self, script: &Script, stdin: &[u8]) -> Result<Vec<u8>, NodeError> {
        self.commands.fetch_add(1, Ordering::Relaxed);
        match &self.kind {
            ShellKind::Local(l) => l.run(script, stdin).await,
            ShellKind::Ssh(s) => s.run(script, stdin).await,
        }
    }

    /// Commands run so far.
    pub fn commands(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }
}

/// Maps a finished command to its stdout, or to [`NodeError::Failed`] with its stderr.
fn output_result(code: Option<i32>, stdout: Vec<u8>, stderr: &[u8]) -> Result<Vec<u8>, NodeError> {
    match code {
        Some(0) => Ok(stdout),
        code => Err(NodeError::Failed {
            code: code.unwrap_or(-1),
            stderr: String::from_utf8_lossy(stderr)
                .trim()
                .chars()
                .take(2000)
                .collect(),
        }),
    }
}
