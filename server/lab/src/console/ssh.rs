//! SSH through the portal: xterm.js in the browser, the portal as the SSH client, the VM's
//! own `sshd` on the other side. Optional per class (`classes.ssh_enabled`, set by its
//! teachers).
//!
//! The same checks as the terminal before anything else ([`super::running_vm`]: the user may
//! use the VM, its node answers, it runs), then: the VM belongs to a class with SSH enabled
//! and the inventory knows its IP, inside the cluster's VM subnets and not the portal's or a
//! node's own address ([`super::ssh_address`]). The target is always that IP, port 22, read from the
//! database: nothing the browser sends names a host or a port. SSH sessions share the
//! per-user console slots and the idle timeout.
//!
//! The browser speaks the terminal's protocol ([`super::terminal::frames`]): keystrokes, and
//! `resize:COLS:ROWS`. Before connecting, the relay asks in the terminal for `login as: `
//! (echoed) and `password: ` (not echoed), then logs in with password authentication; a
//! refused password prints "Access denied" and asks again, at most [`MAX_ATTEMPTS`] times.
//! The credentials live in memory for that login only: they are never stored nor logged.
//!
//! The host key is **not** pinned: the VMs of a class are clones of one template and share
//! its host key, and they are re-created on reset, so there is nothing stable to pin. The
//! relay prints the key's SHA-256 fingerprint in the terminal on each connection, so a
//! careful user can compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`.

use super::ssh_address;
use super::terminal::frames;
use super::{AccessWatch, ByteLink, Payload, RelayStats, Slot, running_vm};
use crate::db::entity::{class, class_vm, user};
use crate::model::VmRole;
use crate::{Error, Result, Services, clusters};
use russh::ChannelMsg;
use russh::client;
use russh::keys::{HashAlg, PublicKeyOrCertificate};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The only port the relay connects to (tests may use another, see [`SshTarget::on_port`]).
pub const SSH_PORT: u16 = 22;
/// Wrong passwords before the relay gives up.
pub const MAX_ATTEMPTS: usize = 3;
/// Connecting (TCP and the SSH handshake) gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest user name or password the prompts take.
const MAX_FIELD: usize = 256;

/// Where the relay will connect, with the console slot it holds.
pub struct SshTarget {
    addr: SocketAddr,
    slot: Slot,
}

impl SshTarget {
    /// The VM's address (always its inventory IP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Tests only: the same IP on another port (a test sshd cannot take port 22).
    #[doc(hidden)]
    pub fn on_port(mut self, port: u16) -> Self {
        self.addr.set_port(port);
        self
    }
}

/// Checks that `user` may use the VM and that it runs (as the terminal does), that its class
/// has SSH enabled and that it has a known IP, and takes a console slot. Connects nowhere:
/// the relay does, once the user typed the credentials.
pub async fn open_ssh(
    services: &Services,
    user: &user::Model,
    cluster_id: i32,
    vmid: i32,
) -> Result<SshTarget> {
    let vm = running_vm(services, user, cluster_id, vmid).await?;
    if !ssh_enabled(services, cluster_id, vmid).await? {
        return Err(Error::Conflict(
            "SSH through the portal is not enabled for this VM's class.".into(),
        ));
    }
    let ip: IpAddr = vm
        .ip
        .as_deref()
        .and_then(|ip| ip.trim().parse().ok())
        .ok_or_else(|| Error::Conflict("The VM has no known IP address yet.".into()))?;
    // The guest agent reports that IP, and a student with root in the VM controls it.
    let cluster = clusters::find(services, cluster_id).await?;
    let subnets = clusters::vm_subnets(&cluster);
    // The database alone refuses most bad addresses; only then ask Proxmox for its nodes'.
    ssh_address::check_address(ip, &subnets, &[])?;
    let nodes = ssh_address::node_addresses(services, &cluster).await?;
    ssh_address::check_address(ip, &subnets, &nodes)?;
    let slot = services.consoles.take(user.id)?;
    Ok(SshTarget {
        addr: SocketAddr::new(ip, SSH_PORT),
        slot,
    })
}

/// Does the VM belong (as a teacher's or a student's VM) to a class with SSH enabled?
pub async fn ssh_enabled(services: &Services, cluster_id: i32, vmid: i32) -> Result<bool> {
    let rows = class_vm::Entity::find()
        .filter(class_vm::Column::ClusterId.eq(cluster_id))
        .filter(class_vm::Column::Vmid.eq(vmid))
        .filter(class_vm::Column::Role.ne(VmRole::Base))
        .all(&services.db)
        .await?;
    if rows.is_empty() {
        return Ok(false);
    }
    Ok(class::Entity::find()
        .filter(class::Column::Id.is_in(rows.iter().map(|r| r.class_id)))
        .filter(class::Column::SshEnabled.eq(true))
        .one(&services.db)
        .await?
        .is_some())
}

/// The browser's side while the relay asks for credentials: the terminal size it last sent,
/// and the idle clock.
struct Prompter<'a, B> {
    browser: &'a mut B,
    cols: u16,
    rows: u16,
    idle: Duration,
    stats: &'a mut RelayStats,
}

/// What a prompt ended with.
enum Line {
    Entered(String),
    /// The browser left, Ctrl-C or Ctrl-D, or nothing for `idle`.
    Gone,
}

impl<B: ByteLink> Prompter<'_, B> {
    async fn say(&mut self, text: &str) -> Result<()> {
        self.stats.to_browser += text.len();
        self.browser.send(text.as_bytes().to_vec()).await
    }

    /// Reads one line, echoing it or not; backspace erases, Enter ends it, escape sequences
    /// (arrow keys…) and other control characters are ignored.
    async fn read_line(&mut self, echo: bool) -> Result<Line> {
        let mut line = String::new();
        loop {
            let message = match tokio::time::timeout(self.idle, self.browser.recv_message()).await {
                Err(_) => {
                    self.stats.idle_timeout = true;
                    return Ok(Line::Gone);
                }
                Ok(message) => message?,
            };
            let text = match message {
                None => return Ok(Line::Gone),
                Some(Payload::Text(text)) => match text.strip_prefix("resize:") {
                    Some(size) => {
                        if let Some((cols, rows)) = frames::parse_size(size) {
                            (self.cols, self.rows) = (cols, rows);
                        }
                        continue;
                    }
                    None => text,
                },
                Some(Payload::Binary(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            };
            if text.starts_with('\x1b') {
                continue;
            }
            let mut echoed = String::new();
            for c in text.chars() {
                match c {
                    '\r' | '\n' => {
                        self.say(&format!("{echoed}\r\n")).await?;
                        return Ok(Line::Entered(line));
                    }
                    '\x03' | '\x04' => {
                        self.say(&format!("{echoed}\r\n")).await?;
                        return Ok(Line::Gone);
                    }
                    '\x7f' | '\x08' => {
                        let erased = line.pop().is_some();
                        if erased && echo {
                            echoed.push_str("\x08 \x08");
                        }
                    }
                    c if c.is_control() => {}
                    c if line.len() + c.len_utf8() <= MAX_FIELD => {
                        line.push(c);
                        if echo {
                            echoed.push(c);
                        }
                    }
                    _ => {}
                }
            }
            if !echoed.is_empty() {
                self.say(&echoed).await?;
            }
        }
    }
}

/// The SSH client's callbacks: accept any host key (see the module doc), remember its
/// fingerprint to show it.
struct Client {
    fingerprint: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        *self.fingerprint.lock().expect("fingerprint poisoned") = Some(fingerprint);
        Ok(true)
    }
}

/// Asks for credentials, logs in, then relays until either side closes, nothing moves for
/// `idle`, or `watch` sees access go (from the first prompt on: the SSH connection is
/// dropped with the session); frees the slot when it ends, however it ends.
pub async fn relay<B: ByteLink>(
    mut browser: B,
    target: SshTarget,
    idle: Duration,
    mut watch: AccessWatch,
) -> Result<RelayStats> {
    let SshTarget { addr, slot } = target;
    let mut stats = RelayStats::default();
    let ended = watch
        .run(session(&mut browser, addr, idle, &mut stats))
        .await;
    let result = super::close_browser(&mut browser, ended, &mut stats).await;
    drop(slot);
    result.map(|()| stats)
}

async fn session<B: ByteLink>(
    browser: &mut B,
    addr: SocketAddr,
    idle: Duration,
    stats: &mut RelayStats,
) -> Result<()> {
    let mut p = Prompter {
        browser,
        cols: 80,
        rows: 24,
        idle,
        stats,
    };
    p.say(&format!("SSH to {}\r\n", addr.ip())).await?;
    for attempt in 1..=MAX_ATTEMPTS {
        p.say("login as: ").await?;
        let Line::Entered(login) = p.read_line(true).await? else {
            return Ok(());
        };
        if login.is_empty() {
            p.say("A user name is needed.\r\n").await?;
            continue;
        }
        p.say("password: ").await?;
        let Line::Entered(password) = p.read_line(false).await? else {
            return Ok(());
        };
        let password = SecretString::from(password);
        let fingerprint = Arc::new(Mutex::new(None));
        let handle = match connect(addr, fingerprint.clone()).await {
            Ok(handle) => handle,
            Err(message) => {
                p.say(&format!("{message}\r\n")).await?;
                return Ok(());
            }
        };
        let seen = fingerprint.lock().expect("fingerprint poisoned").take();
        if let Some(fp) = seen {
            p.say(&format!("Host key {fp} (not verified)\r\n")).await?;
        }
        let mut handle = handle;
        let auth = handle
            .authenticate_password(login, password.expose_secret())
            .await;
        drop(password);
        match auth {
            Ok(result) if result.success() => {
                let (cols, rows) = (p.cols, p.rows);
                let result = shell(p.browser, &handle, cols, rows, idle, p.stats).await;
                let _ = handle
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
                return result;
            }
            Ok(_) => {
                let _ = handle
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
                p.say("Access denied\r\n").await?;
                if attempt == MAX_ATTEMPTS {
                    p.say("Too many failed attempts.\r\n").await?;
                }
            }
            Err(e) => {
                p.say(&format!(
                    "The VM's SSH server closed the connection ({e}).\r\n"
                ))
                .await?;
                return Ok(());
            }
        }
    }
    Ok(())
}

async fn connect(
    addr: SocketAddr,
    fingerprint: Arc<Mutex<Option<String>>>,
) -> std::result::Result<client::Handle<Client>, String> {
    let config = Arc::new(client::Config {
        // Keep the flow-control window small: at most this much output waits in memory.
        window_size: 256 << 10,
        ..Default::default()
    });
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        client::connect(config, addr, Client { fingerprint }),
    )
    .await
    {
        Err(_) => Err(format!(
            "The VM did not answer on port {} (is its SSH server running?).",
            addr.port()
        )),
        Ok(Err(russh::Error::IO(e))) => Err(format!(
            "Could not connect to the VM's SSH server on port {}: {e}.",
            addr.port()
        )),
        Ok(Err(e)) => Err(format!("The VM's SSH server refused the connection ({e}).")),
        Ok(Ok(handle)) => Ok(handle),
    }
}

/// A pty and a shell, then bytes both ways. Each send is awaited before the next receive,
/// so a slow side holds the other back (russh's window bounds what the VM may send ahead).
async fn shell<B: ByteLink>(
    browser: &mut B,
    handle: &client::Handle<Client>,
    cols: u16,
    rows: u16,
    idle: Duration,
    stats: &mut RelayStats,
) -> Result<()> {
    let gone = |e: russh::Error| Error::Unavailable(format!("SSH connection: {e}"));
    let mut channel = handle.channel_open_session().await.map_err(gone)?;
    channel
        .request_pty(false, "xterm", cols.into(), rows.into(), 0, 0, &[])
        .await
        .map_err(gone)?;
    channel.request_shell(false).await.map_err(gone)?;
    let idle_timer = tokio::time::sleep(idle);
    tokio::pin!(idle_timer);
    loop {
        tokio::select! {
            from_browser = browser.recv_message() => {
                let Some(message) = from_browser? else { return Ok(()) };
                let bytes = match message {
                    Payload::Binary(bytes) => bytes,
                    Payload::Text(text) => match text.strip_prefix("resize:") {
                        Some(size) => {
                            if let Some((cols, rows)) = frames::parse_size(size) {
                                channel
                                    .window_change(cols.into(), rows.into(), 0, 0)
                                    .await
                                    .map_err(gone)?;
                            }
                            continue;
                        }
                        None => text.into_bytes(),
                    },
                };
                if !bytes.is_empty() {
                    stats.to_node += bytes.len();
                    channel.data(&bytes[..]).await.map_err(gone)?;
                }
            }
            from_vm = channel.wait() => {
                match from_vm {
                    None | Some(ChannelMsg::Close) => return Ok(()),
                    Some(ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. }) => {
                        stats.to_browser += data.len();
                        browser.send(data.to_vec()).await?;
                    }
                    Some(_) => continue,
                }
            }
            () = &mut idle_timer => {
                stats.idle_timeout = true;
                return Ok(());
            }
        }
        idle_timer.as_mut().reset(Instant::now() + idle);
    }
}
