//! What can go wrong talking to PVE, and the one place that turns an HTTP answer into data
//! or an error ([`decode_envelope`]).
//!
//! PVE puts error text in up to three places (reference §1.3): a JSON body
//! `{"data":null,"message":"…\n"}` (libpve-http-server >= 5.2.0), the HTTP reason phrase
//! (all versions, first line only), or nowhere: auth-layer 401s and proxy errors 595/596
//! have empty bodies, and 501 may be plain text. Missing guests are 500s, not 404s.

use std::error::Error as StdError;
use std::fmt;

use reqwest::StatusCode;
use serde_json::Value;

/// Errors of [`super::Client`] calls. No variant ever carries a secret.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// 401: no, bad or expired credentials.
    #[error("not authenticated: {0}")]
    Unauthorized(String),
    /// 403 with PVE's `Permission check failed (…)` text.
    #[error("permission denied: {0}")]
    Forbidden(String),
    /// Any other error status (400, 500, 501, …) with PVE's message.
    #[error("Proxmox VE answered {status}: {message}")]
    Api { status: u16, message: String },
    /// 595/596/597: the PVE host we asked could not reach the node in the path.
    #[error("node unreachable (HTTP {status})")]
    NodeUnreachable { status: u16 },
    /// The call took longer than the connection's timeout.
    #[error("timed out")]
    Timeout,
    /// Connection refused, reset, DNS failure, …
    #[error("cannot reach Proxmox VE: {0}")]
    Connect(String),
    /// The server's certificate is not the pinned one.
    #[error("certificate fingerprint mismatch: expected {expected}, server has {actual}")]
    FingerprintMismatch { expected: String, actual: String },
    /// Any other TLS failure (untrusted certificate, handshake error).
    #[error("TLS error: {0}")]
    Tls(String),
    /// The answer did not have the expected shape.
    #[error("unexpected answer from Proxmox VE: {0}")]
    Decode(String),
    /// Bad connection settings or arguments.
    #[error("invalid: {0}")]
    Invalid(String),
}

impl Error {
    /// A word for the kind of error, for `/metrics`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::Api { status, .. } if *status < 500 => "client_error",
            Error::Api { .. } => "server_error",
            Error::NodeUnreachable { .. } => "node_unreachable",
            Error::Timeout => "timeout",
            Error::Connect(_) => "connect",
            Error::FingerprintMismatch { .. } | Error::Tls(_) => "tls",
            Error::Decode(_) => "decode",
            Error::Invalid(_) => "invalid",
        }
    }

    pub fn is_node_unreachable(&self) -> bool {
        matches!(self, Error::NodeUnreachable { .. })
    }

    /// Worth trying again later: the network or a node, not the request, was at fault.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Connect(_) | Error::Timeout | Error::NodeUnreachable { .. }
        )
    }
}

/// Turns a complete answer into the envelope's `data` (which may be `null`) or an error.
pub(crate) fn decode_envelope(
    status: StatusCode,
    reason: Option<&str>,
    body: &[u8],
) -> Result<Value, Error> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if status.is_success() {
        return match json {
            Some(Value::Object(mut m)) if m.contains_key("data") => {
                Ok(m.remove("data").unwrap_or(Value::Null))
            }
            _ => Err(Error::Decode(format!(
                "HTTP {} without a {{\"data\": …}} envelope",
                status.as_u16()
            ))),
        };
    }
    let code = status.as_u16();
    if matches!(code, 595..=597) {
        // AnyEvent::HTTP pseudo-statuses from pveproxy's proxying; the reason phrase holds
        // the socket error ("Connection timed out"), the body is empty.
        tracing::debug!(status = code, reason, "PVE could not reach the node");
        return Err(Error::NodeUnreachable { status: code });
    }
    let message = json
        .as_ref()
        .and_then(message_of)
        .or_else(|| plain_text(json.is_none(), body))
        .or_else(|| {
            reason
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(Into::into)
        })
        .or_else(|| status.canonical_reason().map(Into::into));
    match code {
        401 => Err(Error::Unauthorized(
            message.unwrap_or_else(|| "authentication failed".into()),
        )),
        403 => Err(Error::Forbidden(
            message.unwrap_or_else(|| "permission denied".into()),
        )),
        _ => Err(Error::Api {
            status: code,
            message: message.unwrap_or_else(|| format!("HTTP {code}")),
        }),
    }
}

/// `message` (without PVE's trailing newline), plus the per-parameter `errors` of a 400.
fn message_of(v: &Value) -> Option<String> {
    let message = v.get("message")?.as_str()?.trim_end().to_string();
    let Some(Value::Object(errors)) = v.get("errors") else {
        return Some(message);
    };
    let details: Vec<String> = errors
        .iter()
        .map(|(k, e)| format!("{k}: {}", e.as_str().unwrap_or_default().trim_end()))
        .collect();
    Some(format!("{message} ({})", details.join("; ")))
}

/// A short non-JSON body (501 `Unexpected content for method 'DELETE'`).
fn plain_text(not_json: bool, body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    (not_json && !text.is_empty() && text.len() <= 500).then(|| text.to_string())
}

/// Maps a transport failure; TLS problems are found in the source chain.
pub(crate) fn transport(e: &reqwest::Error) -> Error {
    if let Some(tls) = find_rustls(e) {
        return tls_error(tls);
    }
    if e.is_timeout() {
        return Error::Timeout;
    }
    Error::Connect(chain_text(e))
}

/// The rustls error behind a failure. It sits in nested `io::Error`s, whose `source()`
/// skips the wrapped error, hence `get_ref` for those.
pub(crate) fn find_rustls<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    None
}

/// The verifier's complaint, carried inside rustls' error to [`transport`].
#[derive(Debug)]
pub(crate) struct Mismatch {
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate fingerprint {} is not the pinned one",
            self.actual
        )
    }
}

impl std::error::Error for Mismatch {}

pub(crate) fn tls_error(e: &rustls::Error) -> Error {
    if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) = e
        && let Some(m) = other.0.downcast_ref::<Mismatch>()
    {
        return Error::FingerprintMismatch {
            expected: m.expected.clone(),
            actual: m.actual.clone(),
        };
    }
    Error::Tls(e.to_string())
}

/// "error sending request …: client error (Connect): tcp connect error: Connection refused":
/// an error with its causes (reqwest's own message hides them).
pub fn chain_text(e: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

impl Error {
    /// The guest (or other object) named in the path does not exist. PVE has no status for
    /// this: it answers 500 with `Configuration file 'nodes/pve1/qemu-server/999.conf' does
    /// not exist` (reference §1.3), so the text is read here, once, at the edge.
    pub fn is_missing(&self) -> bool {
        matches!(self, Error::Api { status: 500, message } if message.trim_end().ends_with("does not exist"))
    }
}
