//! `AppError`: the one error type server functions return. Its variants name what the user can
//! do something about; the detail of an internal error is logged on the server, never sent.
//! The HTTP status of a failed server function is derived from it (`status()`), in one place
//! in the server's router.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Bad input; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    #[error("Wrong username or password.")]
    WrongCredentials,
    #[error("{0}")]
    TooManyAttempts(String),
    #[error("Please sign in.")]
    Unauthenticated,
    #[error("You are not allowed to do that.")]
    Forbidden,
    #[error("{0} was not found.")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Proxmox is unavailable: {0}")]
    ProxmoxUnavailable(String),
    /// Proxmox refused or failed the request; its message.
    #[error("{0}")]
    Proxmox(String),
    #[error("Something went wrong on the server; it has been logged.")]
    Internal,
    /// The request never made it, or the answer could not be read (client side).
    #[error("Could not reach the server ({0}).")]
    Transport(String),
}

impl AppError {
    /// The HTTP status a server function answers with when it fails this way.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid(_) => 400,
            AppError::WrongCredentials | AppError::Unauthenticated => 401,
            AppError::Forbidden => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::TooManyAttempts(_) => 429,
            AppError::ProxmoxUnavailable(_) => 503,
            AppError::Proxmox(_) => 502,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The request's arguments did not decode: a malformed or incomplete form.
            ServerFnErrorErr::Args(msg) | ServerFnErrorErr::MissingArg(msg) => {
                AppError::Invalid(format!("The form was incomplete or malformed: {msg}"))
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<lab::Error> for AppError {
    fn from(e: lab::Error) -> Self {
        match e {
            lab::Error::Invalid(msg) => AppError::Invalid(msg),
            lab::Error::WrongCredentials => AppError::WrongCredentials,
            e @ lab::Error::Throttled { .. } => AppError::TooManyAttempts(e.to_string()),
            lab::Error::Unauthenticated => AppError::Unauthenticated,
            lab::Error::Forbidden => AppError::Forbidden,
            lab::Error::NotFound(what) => AppError::NotFound(what),
            lab::Error::Conflict(msg) => AppError::Conflict(msg),
            e @ lab::Error::Proxmox(_) => AppError::Proxmox(e.to_string()),
            lab::Error::Unavailable(msg) => AppError::ProxmoxUnavailable(msg),
            other => {
                tracing::error!(error = %other, "internal error in a server function");
                AppError::Internal
            }
        }
    }
}
