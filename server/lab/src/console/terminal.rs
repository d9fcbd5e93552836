//! The web terminal: xterm.js in the browser, pve-xtermjs's `termproxy` on the node (a
//! QEMU VM's serial port, or a container's console), the portal in between.
//!
//! The same rules as the screen console (see the parent module): the same checks before any
//! Proxmox call, the same per-user slots (a terminal counts as a console), one frame in
//! flight per direction, the idle timeout, a fresh ticket per connection. Unlike the VNC
//! relay this one does not pass bytes through unchanged, for three reasons:
//!
//! * termproxy's first line is `<user>:<ticket>\n`: the relay sends it ([`open_terminal`]),
//!   so the ticket never reaches the browser, as with VNC auth;
//! * termproxy reads `0:`/`1:`/`2` frames. The browser speaks a simpler protocol
//!   ([`frames`]) and the relay writes every header, so nothing a student types can reach
//!   termproxy as a command, and the page needs no framing code;
//! * the keep-alive `2` that PVE's own xterm.js page sends every 30 s comes from the relay,
//!   so a browser tab in the background (whose timers the browser slows down) does not let
//!   the node's side go quiet. It does not count as traffic for the idle timeout.

pub mod frames;

use super::{AccessWatch, ByteLink, RelayStats, Slot, rfb, running_vm};
use crate::db::entity::user;
use crate::pve::{ConsoleSocket, GuestKind, TermTicket};
use crate::{Error, Result, Services, clusters};
use secrecy::ExposeSecret;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};

/// How often the relay sends termproxy's keep-alive (what PVE's xterm.js page does).
pub const KEEPALIVE: Duration = Duration::from_secs(30);
/// termproxy waits 10 s for the ticket line; the relay waits as long for its `OK`.
const LOGIN_WAIT: Duration = Duration::from_secs(10);

/// A relay's clocks.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Closed after this long without traffic either way.
    pub idle: Duration,
    pub keepalive: Duration,
}

/// The production clocks: [`super::IDLE`] and [`KEEPALIVE`].
pub const TIMING: Timing = Timing {
    idle: super::IDLE,
    keepalive: KEEPALIVE,
};

/// A terminal ready to relay: the node's side past `OK`, and the output that came with it.
pub struct Terminal<N = ConsoleSocket> {
    pub node: N,
    pub leftover: Vec<u8>,
    pub slot: Slot,
}

/// Checks that `user` may use the VM and that it runs (exactly as [`super::open`]), takes a
/// console slot, then asks the node for a terminal and logs in to it. Nothing reaches
/// Proxmox before the checks pass.
pub async fn open_terminal(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<Terminal> {
    let vm = running_vm(services, user, cluster_id, vmid).await?;
    let kind = if vm.kind == "lxc" {
        GuestKind::Lxc
    } else {
        GuestKind::Qemu
    };
    let slot = services.consoles.take(user.id)?;
    let cluster = clusters::find(services, cluster_id).await?;
    let client = clusters::client(services, &cluster)?;
    let ticket = client.term_proxy(&vm.node, kind, vmid as u32).await?;
    let socket = client
        .term_websocket(&vm.node, kind, vmid as u32, &ticket)
        .await?;
    let (node, leftover) = login(socket, &ticket).await?;
    Ok(Terminal {
        node,
        leftover,
        slot,
    })
}

/// termproxy's handshake: `<user>:<ticket>\n`, then `OK` (output may follow in the same
/// frame: that is the leftover). termproxy closes the connection on a bad ticket.
pub async fn login<N: ByteLink>(node: N, ticket: &TermTicket) -> Result<(N, Vec<u8>)> {
    let mut link = rfb::Buffered::new(node);
    let line = format!("{}:{}\n", ticket.user, ticket.ticket.expose_secret());
    link.write(line.as_bytes()).await?;
    let refused = || Error::Proxmox("The VM's terminal refused the connection.".into());
    let ok = tokio::time::timeout(LOGIN_WAIT, link.read_exact(2))
        .await
        .map_err(|_| Error::Unavailable("The VM's terminal did not answer.".into()))?
        .map_err(|_| refused())?;
    if ok != b"OK" {
        return Err(refused());
    }
    Ok(link.into_parts())
}

/// Serves the browser until either side closes, nothing moves for `timing.idle`, or `watch`
/// sees access go; frees the slot when it ends, however it ends (the [`Slot`] is dropped
/// with this future).
pub async fn relay<B: ByteLink, N: ByteLink>(
    mut browser: B,
    terminal: Terminal<N>,
    timing: Timing,
    mut watch: AccessWatch,
) -> Result<RelayStats> {
    let Terminal {
        mut node,
        leftover,
        slot,
    } = terminal;
    let mut stats = RelayStats::default();
    let pumped = watch
        .run(pump(&mut browser, &mut node, leftover, timing, &mut stats))
        .await;
    let result = super::close_browser(&mut browser, pumped, &mut stats).await;
    node.close().await;
    drop(slot);
    result.map(|()| stats)
}

async fn pump<B: ByteLink, N: ByteLink>(
    browser: &mut B,
    node: &mut N,
    leftover: Vec<u8>,
    timing: Timing,
    stats: &mut RelayStats,
) -> Result<()> {
    if !leftover.is_empty() {
        stats.to_browser += leftover.len();
        browser.send(leftover).await?;
    }
    let mut keepalive =
        tokio::time::interval_at(Instant::now() + timing.keepalive, timing.keepalive);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let idle = tokio::time::sleep(timing.idle);
    tokio::pin!(idle);
    loop {
        // Only the receives race; each send is awaited before the next receive, so a slow
        // side holds the other back instead of filling a buffer.
        tokio::select! {
            from_browser = browser.recv_message() => {
                let Some(message) = from_browser? else { return Ok(()) };
                if let Some(bytes) = frames::from_browser(message) {
                    stats.to_node += bytes.len();
                    node.send(bytes).await?;
                }
            }
            from_node = node.recv() => {
                let Some(bytes) = from_node? else { return Ok(()) };
                stats.to_browser += bytes.len();
                browser.send(bytes).await?;
            }
            _ = keepalive.tick() => {
                node.send(frames::KEEPALIVE.to_vec()).await?;
                continue;
            }
            () = &mut idle => {
                stats.idle_timeout = true;
                return Ok(());
            }
        }
        idle.as_mut().reset(Instant::now() + timing.idle);
    }
}

#[cfg(test)]
mod tests;
