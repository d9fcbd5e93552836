//! A thin, hand-written client for the Proxmox VE HTTP API (`/api2/json`).
//!
//! Why our own instead of a crate: the portal needs about a dozen endpoints but precise
//! control over what PVE gets wrong or leaves to clients (see
//! `shared/reference/proxmox-api.md` §1, §5.3):
//!
//! * certificates are self-signed per node, so admins pin the leaf's SHA-256 fingerprint
//!   like an SSH host key ([`tls`]); nothing ever accepts any certificate blindly;
//! * tickets live 2 h and are renewed with the ticket itself; CSRF tokens are needed on
//!   non-GET calls with tickets only; API tokens need neither ([`client`]);
//! * a refused token or password is not shown to Proxmox again at once: the client backs off
//!   ([`backoff`]);
//! * errors hide in three places: a JSON `message`, the HTTP reason phrase (older servers)
//!   or nowhere (empty 401/595/596 bodies); there is no 404 for a missing guest ([`error`]);
//! * Perl's loose typing: 0/1 booleans, numbers sent as strings, entries without figures
//!   ([`types`]).
//!
//! Secrets (passwords, token secrets, tickets, CSRF tokens) never reach logs or `Debug`.

mod backoff;
mod builder;
mod client;
mod clone;
mod console;
mod error;
mod isos;
mod permissions;
mod snapshots;
mod terminal;
mod tls;
mod types;

use std::time::Duration;

use secrecy::SecretString;

pub use client::Client;
pub use clone::CloneSpec;
pub use console::{ConsoleSocket, VncTicket};
pub use error::{Error, chain_text};
pub use isos::{IsoDownload, IsoUpload};
pub use permissions::{DEFAULT_PATHS, Grant, Permissions};
pub use terminal::TermTicket;
pub use tls::fetch_fingerprint;
pub use types::*;
// For `crate::fuzzing` (the fuzz targets); the client is its only other user.
#[cfg(feature = "fuzzing")]
pub(crate) use error::decode_envelope;

/// Where and as whom to reach one PVE cluster.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Base URLs like `https://10.0.0.1:8006` (a trailing `/api2/json` is accepted and
    /// stripped). Several URLs are tried in order when one cannot be reached.
    pub urls: Vec<String>,
    /// SHA-256 of the leaf certificate (`AA:BB:…`; lower case or no colons accepted).
    /// `None` verifies against the system's trusted roots.
    pub fingerprint: Option<String>,
    pub credentials: Credentials,
    /// Limit for each HTTP call (connect, send, whole answer).
    pub timeout: Duration,
}

/// How the client authenticates. `Debug` shows the ids, never the secrets.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An API token: `id` is `user@realm!tokenid`.
    Token { id: String, secret: SecretString },
    /// A user (`user@realm`) logging in for a ticket.
    Password {
        user: String,
        password: SecretString,
    },
}
