//! `lab::Error`: what can go wrong in the domain, in terms a caller can act on.

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input breaks a rule; the message is for the user.
    #[error("{0}")]
    Invalid(String),
    /// Login failed. One message for every reason, so it tells an attacker nothing.
    #[error("Wrong username or password.")]
    WrongCredentials,
    /// Too many failed logins; try again after this many seconds.
    #[error("Too many failed sign-in attempts. Try again in {} minute(s).", (retry_after_secs + 59) / 60)]
    Throttled { retry_after_secs: i64 },
    /// The session is missing, expired or ended.
    #[error("Your session has ended. Please sign in again.")]
    Unauthenticated,
    #[error("You are not allowed to do that.")]
    Forbidden,
    #[error("{0} was not found.")]
    NotFound(String),
    /// The change clashes with the current state (a taken username, the last admin…).
    #[error("{0}")]
    Conflict(String),
    /// Proxmox answered with an error, or could not be reached; the message is PVE's own.
    #[error("Proxmox: {0}")]
    Proxmox(String),
    /// The node or cluster cannot be reached right now.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] DbErr),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::pve::Error> for Error {
    fn from(e: crate::pve::Error) -> Self {
        if e.is_transient() {
            Error::Unavailable(format!("The Proxmox node cannot be reached ({e})."))
        } else {
            Error::Proxmox(e.to_string())
        }
    }
}
