//! The console relay: a browser's WebSocket on one side, the node's `vncwebsocket` on the
//! other, bytes passed both ways with one frame in flight per direction (so a slow side
//! slows the other instead of filling memory).
//!
//! The VNC password (the 40-second ticket) never reaches the browser: the relay answers the
//! node's VNC-auth challenge itself ([`rfb`]) and offers the browser "no authentication" on
//! a connection that only exists after the portal checked the session and the VM. Each
//! connection fetches a fresh ticket, so the ticket's 40 s life never matters.
//!
//! Every relay (screen, terminal, SSH) runs under an [`AccessWatch`] ([`watch`]): when the
//! session ends or the user loses the VM, it closes within moments, with
//! [`Closing::Revoked`] so the page can say why.

mod link;
pub mod rfb;
pub mod ssh;
pub mod ssh_address;
pub mod terminal;
pub mod watch;

use crate::db::entity::user;
use crate::inventory::usable_vm;
use crate::pve::{ConsoleSocket, GuestKind};
use crate::{Error, Result, Services, clusters};
use futures_util::{SinkExt, StreamExt};
pub use link::{ByteLink, Closing, Payload};
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
pub use watch::AccessWatch;

/// Consoles (screens and terminals together) one user may have open at once.
pub const MAX_PER_USER: usize = 4;
/// A console with no traffic either way for this long is closed.
pub const IDLE: Duration = Duration::from_secs(30 * 60);

impl ByteLink for ConsoleSocket {
    async fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            return match self.next().await {
                None | Some(Ok(Message::Close(_))) => Ok(None),
                Some(Ok(Message::Binary(b))) => Ok(Some(b.to_vec())),
                Some(Ok(Message::Text(t))) => Ok(Some(t.as_bytes().to_vec())),
                Some(Ok(_)) => continue,
                Some(Err(e)) => Err(Error::Unavailable(format!("console connection: {e}"))),
            };
        }
    }

    async fn send(&mut self, bytes: Vec<u8>) -> Result<()> {
        SinkExt::send(self, Message::Binary(bytes.into()))
            .await
            .map_err(|e| Error::Unavailable(format!("console connection: {e}")))
    }

    async fn close(&mut self) {
        let _ = SinkExt::close(self).await;
    }
}

/// The `[console]` settings.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleLimits {
    /// Consoles and terminals one user may have open at once.
    pub max_per_user: usize,
    /// Closed after this many minutes without traffic either way.
    pub idle_minutes: u64,
}

impl Default for ConsoleLimits {
    fn default() -> Self {
        Self {
            max_per_user: MAX_PER_USER,
            idle_minutes: IDLE.as_secs() / 60,
        }
    }
}

/// Open consoles per user, released when the relay ends (even by panic or cancellation),
/// and the limits they are held to.
#[derive(Clone, Default)]
pub struct ConsoleSlots {
    open: Arc<Mutex<HashMap<i32, usize>>>,
    limits: ConsoleLimits,
}

pub struct Slot {
    slots: ConsoleSlots,
    user_id: i32,
}

impl ConsoleSlots {
    pub fn new(limits: ConsoleLimits) -> Self {
        Self {
            open: Arc::default(),
            limits,
        }
    }

    /// How long a console may stay quiet before it is closed.
    pub fn idle(&self) -> Duration {
        Duration::from_secs(self.limits.idle_minutes.max(1) * 60)
    }

    fn take(&self, user_id: i32) -> Result<Slot> {
        let mut open = self.open.lock().expect("console slots poisoned");
        let n = open.entry(user_id).or_default();
        let max = self.limits.max_per_user;
        if *n >= max {
            return Err(Error::Conflict(format!(
                "You have {max} consoles open already; close one first."
            )));
        }
        *n += 1;
        Ok(Slot {
            slots: self.clone(),
            user_id,
        })
    }

    /// Consoles open now (all users).
    pub fn open(&self) -> usize {
        self.open
            .lock()
            .expect("console slots poisoned")
            .values()
            .sum()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("console slots poisoned");
        if let Some(n) = open.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// A console ready to relay: the node's side, authenticated, and what it sent past the
/// handshake.
pub struct Upstream {
    pub socket: ConsoleSocket,
    pub leftover: Vec<u8>,
    pub slot: Slot,
}

/// Checks that `user` may use the VM and that it runs, then opens and authenticates the
/// node's console. Nothing reaches Proxmox before both checks pass.
pub async fn open(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<Upstream> {
    let vm = running_vm(services, user, cluster_id, vmid).await?;
    if vm.kind != "qemu" {
        return Err(Error::Invalid(
            "Containers have a terminal, not a screen console.".into(),
        ));
    }
    let slot = services.consoles.take(user.id)?;
    let cluster = clusters::find(services, cluster_id).await?;
    let client = clusters::client(services, &cluster)?;
    let ticket = client
        .vnc_proxy(&vm.node, GuestKind::Qemu, vmid as u32)
        .await?;
    let socket = client
        .vnc_websocket(&vm.node, GuestKind::Qemu, vmid as u32, &ticket)
        .await?;
    let mut link = rfb::Buffered::new(socket);
    rfb::authenticate_upstream(&mut link, ticket.password.expose_secret()).await?;
    let (socket, leftover) = link.into_parts();
    Ok(Upstream {
        socket,
        leftover,
        slot,
    })
}

/// The checks every console and terminal passes before anything reaches Proxmox: `user`
/// may use the VM (owner, its class's teachers, admins), its node answers and it runs.
async fn running_vm(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<crate::db::entity::vm::Model> {
    let vm = usable_vm(services, user, cluster_id, vmid).await?;
    if vm.status == "unknown" {
        return Err(Error::Unavailable(
            "The VM's node cannot be reached right now.".into(),
        ));
    }
    if vm.status != "running" {
        return Err(Error::Conflict(
            "The VM is stopped. Start it to use its console.".into(),
        ));
    }
    Ok(vm)
}

/// Serves the browser: the "no authentication" handshake, then bytes both ways until either
/// side closes, nothing moves for `idle`, or `watch` sees access go.
pub async fn relay<B: ByteLink>(
    browser: B,
    upstream: Upstream,
    idle: Duration,
    mut watch: AccessWatch,
) -> Result<RelayStats> {
    let Upstream {
        socket,
        leftover,
        slot,
    } = upstream;
    let mut browser = rfb::Buffered::new(browser);
    let mut node = socket;
    let mut stats = RelayStats::default();
    let pumped = watch
        .run(pump(&mut browser, &mut node, leftover, idle, &mut stats))
        .await;
    let (mut browser, _) = browser.into_parts();
    let result = close_browser(&mut browser, pumped, &mut stats).await;
    ByteLink::close(&mut node).await;
    drop(slot);
    result.map(|()| stats)
}

/// Closes the browser's side once a relay under an [`AccessWatch`] is over: plainly when the
/// relay ended on its own (`Ok`, its result), with the watch's reason when it cut the relay
/// short (access went, noted in `stats`; or shutdown). Being cut short is not an error.
pub(crate) async fn close_browser<B: ByteLink>(
    browser: &mut B,
    ended: std::result::Result<Result<()>, Closing>,
    stats: &mut RelayStats,
) -> Result<()> {
    match ended {
        Ok(result) => {
            browser.close().await;
            result
        }
        Err(why) => {
            stats.revoked = why == Closing::Revoked;
            browser.close_because(why).await;
            Ok(())
        }
    }
}

async fn pump<B: ByteLink>(
    browser: &mut rfb::Buffered<B>,
    node: &mut ConsoleSocket,
    leftover: Vec<u8>,
    idle: Duration,
    stats: &mut RelayStats,
) -> Result<()> {
    rfb::offer_no_auth(browser).await?;
    let browser_leftover = browser.take_buffered();
    if !browser_leftover.is_empty() {
        stats.to_node += browser_leftover.len();
        ByteLink::send(&mut *node, browser_leftover).await?;
    }
    let browser = browser.link_mut();
    if !leftover.is_empty() {
        stats.to_browser += leftover.len();
        browser.send(leftover).await?;
    }
    loop {
        let step = tokio::time::timeout(idle, async {
            tokio::select! {
                from_browser = browser.recv() => match from_browser? {
                    Some(bytes) => { stats.to_node += bytes.len(); ByteLink::send(&mut *node, bytes).await.map(|_| true) }
                    None => Ok(false),
                },
                from_node = ByteLink::recv(&mut *node) => match from_node? {
                    Some(bytes) => { stats.to_browser += bytes.len(); browser.send(bytes).await.map(|_| true) }
                    None => Ok(false),
                },
            }
        })
        .await;
        match step {
            Ok(Ok(true)) => continue,
            Ok(Ok(false)) => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                stats.idle_timeout = true;
                return Ok(());
            }
        }
    }
}

/// What passed through a relay.
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayStats {
    pub to_browser: usize,
    pub to_node: usize,
    pub idle_timeout: bool,
    /// Ended because access went (see [`watch`]).
    pub revoked: bool,
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn the_limits_come_from_the_settings() {
        let slots = ConsoleSlots::new(ConsoleLimits {
            max_per_user: 1,
            idle_minutes: 5,
        });
        let first = slots.take(7).unwrap();
        assert!(matches!(slots.take(7), Err(Error::Conflict(_))));
        let other = slots.take(8).unwrap();
        drop(first);
        let again = slots.take(7).unwrap();
        assert_eq!(slots.open(), 2);
        drop((other, again));
        assert_eq!(slots.open(), 0);
        assert_eq!(slots.idle(), Duration::from_secs(300));
    }
}
