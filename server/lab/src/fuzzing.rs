//! Entry points for the cargo-fuzz targets in `server/lab/fuzz/` (issue 12), compiled only
//! with the `fuzzing` feature, which nothing but that crate turns on.
//!
//! Why this module: the Proxmox reply decoders are crate-private (the client is their only
//! caller, and their signatures use reqwest and serde_json types that are no business of
//! `lab`'s users). Rather than widen their visibility, this module exposes thin wrappers
//! that call them exactly as [`crate::pve::Client`] does. Everything else the targets use
//! (guest configs, the RFB handshakes, termproxy frames) is public already.

use crate::pve::{self, GuestResource, NetInterface};
use serde_json::Value;

/// `decode_envelope`: a status line and body into the envelope's `data` or an error. `None`
/// when `status` is not a status code at all (reqwest never produces one).
pub fn envelope(
    status: u16,
    reason: Option<&str>,
    body: &[u8],
) -> Option<Result<Value, pve::Error>> {
    let status = reqwest::StatusCode::from_u16(status).ok()?;
    Some(pve::decode_envelope(status, reason, body))
}

/// `decode_guests`, the streaming decoder of `GET /cluster/resources?type=vm`.
pub fn guests(
    status: u16,
    reason: Option<&str>,
    body: &[u8],
) -> Option<Result<Vec<GuestResource>, pve::Error>> {
    let status = reqwest::StatusCode::from_u16(status).ok()?;
    Some(pve::decode_guests(status, reason, body))
}

/// `GET …/config` data into a [`pve::GuestConfig`].
pub fn guest_config(data: Value) -> Result<pve::GuestConfig, pve::Error> {
    pve::GuestConfig::from_data(data)
}

/// `GET …/agent/network-get-interfaces` data.
pub fn agent_interfaces(data: Value) -> Result<Vec<NetInterface>, pve::Error> {
    pve::agent_interfaces(data)
}

/// `GET …/lxc/{vmid}/interfaces` data.
pub fn lxc_interfaces(data: Value) -> Result<Vec<NetInterface>, pve::Error> {
    pve::lxc_interfaces(data)
}

/// The `groups` / `members` field of the access endpoints.
pub fn groups(field: Option<&Value>) -> Vec<String> {
    pve::groups(field)
}

/// `POST …/termproxy` data as (port, user); the ticket is dropped.
pub fn term_proxy(data: Value) -> Result<(u16, String), serde_json::Error> {
    let reply: pve::TermProxyReply = serde_json::from_value(data)?;
    Ok((reply.port, reply.user))
}
