//! [`SshShell`]: node commands over SSH, through the `openssh` crate.
//!
//! Why `openssh` (process-mux): it drives OpenSSH's own `ssh` client, so host key checking,
//! key exchange and authentication are OpenSSH's, not a reimplementation; and it keeps one
//! multiplexed master connection (`ControlMaster`) per node, so each command costs a channel
//! on an open connection instead of a TCP + key exchange + authentication round trip.
//!
//! Everything `ssh` needs lives in a private directory (0700, removed on drop) owned by the
//! shell: the pinned host keys as the only known-hosts file, an `ssh_config` passed with `-F`
//! (so neither `~/.ssh/config` nor `/etc/ssh/ssh_config` applies to the master), the
//! master's control socket, and the private key, which is written (0600) only while a master
//! is being started and removed right after. The key is never in argv or in a log.
//!
//! Each command is its own short-lived `ssh -S <control socket> ... none sh -c <script>` mux
//! client (openssh adds no `-F` there, so the service account's ssh config is read, but a mux
//! client only forwards the command to the master: connection, keys and host checks are the
//! master's).

use super::{NodeError, Script};
use base64::Engine;
use openssh::Stdio;
use openssh::{KnownHosts, Session, SessionBuilder};
use secrecy::{ExposeSecret, SecretString};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{RwLock, Semaphore};

/// OpenSSH's sshd allows `MaxSessions` (default 10) channels per connection; beyond that a
/// multiplexed command fails to open its channel. Callers bound their own concurrency, but one
/// shell never opens more than this many channels at once, leaving headroom under the default.
const MAX_CHANNELS: usize = 8;

/// What the mux client says when sshd refuses to open a channel on the master connection.
const SESSION_REFUSED: &str = "mux_client_request_session: session request failed";

/// Keepalive on the master: a silently dead connection is noticed after about 3 × this
/// (OpenSSH's default `ServerAliveCountMax`), and the master exits.
const SERVER_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Host key algorithms accepted in pinned keys (what OpenSSH's sshd can offer).
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// How to reach a node over SSH.
#[derive(Clone)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The private key, OpenSSH PEM format (`-----BEGIN OPENSSH PRIVATE KEY-----`), no
    /// passphrase.
    pub key: SecretString,
    /// The pinned host public keys, one per line: `ssh-ed25519 AAAA…` or known_hosts style
    /// `host ssh-ed25519 AAAA…` (the host field is ignored: keys are pinned to this target).
    pub host_keys: String,
    /// Bound on TCP connect and SSH banner exchange (whole seconds, at least 1).
    pub connect_timeout: Duration,
    /// A command that runs longer is abandoned with [`NodeError::Timeout`].
    pub command_timeout: Duration,
}

impl std::fmt::Debug for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("key", &"[redacted]")
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

/// Commands on one node over one multiplexed SSH master connection.
///
/// Concurrent [`run`](Self::run)s share the master; at most 8 channels are open at once.
/// Cheap to clone: clones share the master, which is closed (and the private directory
/// removed) when the last one is dropped.
#[derive(Clone)]
pub struct SshShell {
    shared: Arc<Shared>,
}

struct Shared {
    // Declared before `dir`: fields drop in order, and the session's drop (`ssh -O exit`)
    // needs its control socket, which lives in `dir`.
    conn: RwLock<Conn>,
    channels: Semaphore,
    target: SshTarget,
    builder: SessionBuilder,
    dir: PrivateDir,
}

struct Conn {
    session: Arc<Session>,
    /// Bumped on each reconnect, so that runs that saw the same dead master reconnect once.
    generation: u64,
}

/// Why one attempt at a command did not produce a result.
enum Attempt {
    /// Nothing ran: the master was gone before the command was sent. Safe to retry.
    NotStarted(String),
    /// A final answer (the command may have run).
    Done(NodeError),
}

impl SshShell {
    /// Validates `target`, writes the private files and starts the master connection.
    pub async fn connect(target: SshTarget) -> Result<SshShell, NodeError> {
        let host = check_host(&target.host)?;
        check_user(&target.user)?;
        let known_hosts = known_hosts(&host, target.port, &target.host_keys)?;
        if !target
            .key
            .expose_secret()
            .trim_start()
            .starts_with("-----BEGIN ")
        {
            return Err(NodeError::Invalid(
                "the SSH private key is not in OpenSSH PEM format (-----BEGIN ...)".into(),
            ));
        }

        let dir = PrivateDir::create()?;
        let known_hosts_path = dir.path().join("known_hosts");
        write_private(&known_hosts_path, known_hosts.as_bytes(), 0o600)?;
        let config_path = dir.path().join("ssh_config");
        write_private(
            &config_path,
            ssh_config(&known_hosts_path)?.as_bytes(),
            0o600,
        )?;

        let mut builder = SessionBuilder::default();
        builder
            .user(target.user.clone())
            .port(target.port)
            .keyfile(dir.path().join("id"))
            // `ssh -F`: our config replaces ~/.ssh/config and /etc/ssh/ssh_config entirely.
            .config_file(&config_path)
            // StrictHostKeyChecking=yes: a host whose key is not in our file is refused.
            .known_hosts_check(KnownHosts::Strict)
            .user_known_hosts_file(&known_hosts_path)
            // ConnectTimeout takes whole seconds, and 0 would mean "no timeout".
            .connect_timeout(Duration::from_secs(
                target.connect_timeout.as_secs_f64().ceil().max(1.0) as u64,
            ))
            .server_alive_interval(SERVER_ALIVE_INTERVAL)
            .control_directory(dir.path());

        let session = start_master(&builder, &dir, &target, &host).await?;
        Ok(SshShell {
            shared: Arc::new(Shared {
                conn: RwLock::new(Conn {
                    session: Arc::new(session),
                    generation: 0,
                }),
                channels: Semaphore::new(MAX_CHANNELS),
                target: SshTarget { host, ..target },
                builder,
                dir,
            }),
        })
    }

    /// Runs `sh -c <script>` on the node, feeding `stdin`, and returns its stdout. A non-zero
    /// exit is [`NodeError::Failed`] with the script's stderr.
    ///
    /// If the master connection is found dead before the command is sent, it is restarted once
    /// and the command sent over the new one. A command that may have started is never re-run:
    /// losing the connection while it runs is [`NodeError::Unreachable`].
    pub async fn run(&self, script: &Script, stdin: &[u8]) -> Result<Vec<u8>, NodeError> {
        self.shared.run(script, stdin).await
    }
}

impl Shared {
    async fn run(&self, script: &Script, stdin: &[u8]) -> Result<Vec<u8>, NodeError> {
        let _channel = self
            .channels
            .acquire()
            .await
            .expect("the channel semaphore is never closed");
        let (session, generation) = self.session().await;
        match self.attempt(&session, script, stdin).await {
            Ok(out) => Ok(out),
            Err(Attempt::Done(e)) => Err(e),
            Err(Attempt::NotStarted(why)) => {
                tracing::info!(host = %self.target.host, %why, "SSH master is gone; reconnecting");
                drop(session);
                self.reconnect(generation).await?;
                let (session, _) = self.session().await;
                match self.attempt(&session, script, stdin).await {
                    Ok(out) => Ok(out),
                    Err(Attempt::Done(e)) => Err(e),
                    Err(Attempt::NotStarted(why)) => Err(NodeError::Unreachable(why)),
                }
            }
        }
    }

    async fn session(&self) -> (Arc<Session>, u64) {
        let conn = self.conn.read().await;
        (conn.session.clone(), conn.generation)
    }

    /// Replaces the master seen at `generation`, unless another run already did. Runs wait on
    /// the write lock meanwhile, so a dead master is restarted once, not once per run.
    async fn reconnect(&self, generation: u64) -> Result<(), NodeError> {
        let mut conn = self.conn.write().await;
        if conn.generation != generation {
            return Ok(());
        }
        let fresh = start_master(&self.builder, &self.dir, &self.target, &self.target.host).await?;
        let old = std::mem::replace(&mut conn.session, Arc::new(fresh));
        conn.generation += 1;
        drop(conn);
        // Dropping a Session runs `ssh -O exit` synchronously: keep it off the async workers.
        tokio::task::spawn_blocking(move || drop(old));
        Ok(())
    }

    async fn attempt(
        &self,
        session: &Session,
        script: &Script,
        stdin: &[u8],
    ) -> Result<Vec<u8>, Attempt> {
        // `ssh -O check` asks the master whether it is alive. If it is not, nothing has been
        // sent: this is the one case in which a retry on a new master is safe. (The process-mux
        // client cannot tell "never reached the master" from "the connection died while the
        // command ran" from its exit status alone: both are 255.)
        if let Err(e) = session.check().await {
            return Err(Attempt::NotStarted(openssh_error_text(&e)));
        }
        let timeout = self.target.command_timeout;
        match tokio::time::timeout(timeout, exec(session, script, stdin)).await {
            // Dropping the future kills the local mux client (`kill_on_drop`), which closes the
            // channel; a remote command that ignores its closed pipes may keep running.
            Err(_) => Err(Attempt::Done(NodeError::Timeout(timeout))),
            Ok(Ok(out)) => Ok(out),
            Ok(Err(Exec::Local(e))) => Err(Attempt::Done(e)),
            Ok(Err(Exec::Exit255(stderr))) => {
                // 255 is both "the remote command exited 255 (or died of a signal)" and "ssh
                // failed": the master's health tells which.
                if String::from_utf8_lossy(&stderr).contains(SESSION_REFUSED) {
                    // The master is fine but sshd would not open another channel (its
                    // MaxSessions, or a limit of the account): the command never started.
                    Err(Attempt::Done(NodeError::Unreachable(format!(
                        "the node refused another SSH session: {}",
                        String::from_utf8_lossy(&stderr).trim()
                    ))))
                } else if session.check().await.is_ok() {
                    super::output_result(Some(255), Vec::new(), &stderr).map_err(Attempt::Done)
                } else {
                    Err(Attempt::Done(NodeError::Unreachable(format!(
                        "the SSH connection was lost while the command ran (it may or may not \
                         have run): {}",
                        String::from_utf8_lossy(&stderr).trim()
                    ))))
                }
            }
        }
    }
}

enum Exec {
    Local(NodeError),
    /// The `ssh` client exited 255; its stderr (the remote script's and ssh's own).
    Exit255(Vec<u8>),
}

/// Spawns `sh -c <script>` over the master, feeds stdin while collecting stdout and stderr,
/// and maps the exit status.
async fn exec(session: &Session, script: &Script, stdin: &[u8]) -> Result<Vec<u8>, Exec> {
    let mut child = session
        .command("sh")
        .arg("-c")
        // `arg` shell-quotes: the remote login shell sees one argument, byte for byte.
        .arg(script.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .await
        .map_err(|e| Exec::Local(NodeError::Unreachable(openssh_error_text(&e))))?;
    let mut input = child.stdin().take().expect("stdin is piped");
    let mut output = child.stdout().take().expect("stdout is piped");
    let mut errors = child.stderr().take().expect("stderr is piped");
    // All three at once, so that neither side can block on a full pipe.
    let feed = async move {
        // A script that exits without reading all of stdin closes the pipe: not an error.
        let _ = input.write_all(stdin).await;
        let _ = input.shutdown().await;
        drop(input);
    };
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let (_, out, err) = tokio::join!(
        feed,
        output.read_to_end(&mut stdout),
        errors.read_to_end(&mut stderr)
    );
    out.and(err)
        .map_err(|e| Exec::Local(NodeError::Unreachable(format!("SSH channel I/O: {e}"))))?;
    match child.wait().await {
        Ok(status) => super::output_result(status.code(), stdout, &stderr).map_err(Exec::Local),
        // openssh turns the client's exit codes 127 and 255 into errors; 127 is the remote
        // shell's "command not found", an ordinary failure of the script.
        Err(openssh::Error::Remote(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            super::output_result(Some(127), stdout, &stderr).map_err(Exec::Local)
        }
        Err(openssh::Error::RemoteProcessTerminated | openssh::Error::Disconnected) => {
            Err(Exec::Exit255(stderr))
        }
        Err(e) => Err(Exec::Local(NodeError::Unreachable(openssh_error_text(&e)))),
    }
}

/// Writes the key, starts a master, removes the key again (the master has authenticated by
/// then, and a later reconnect writes it anew).
async fn start_master(
    builder: &SessionBuilder,
    dir: &PrivateDir,
    target: &SshTarget,
    host: &str,
) -> Result<Session, NodeError> {
    let key_path = dir.path().join("id");
    // Browsers submit textareas with CRLF line ends; ssh wants LF and a final newline.
    let mut key = target.key.expose_secret().replace("\r\n", "\n");
    if !key.ends_with('\n') {
        key.push('\n');
    }
    write_private(&key_path, key.as_bytes(), 0o600)?;
    drop(key);
    // `ssh` enforces ConnectTimeout on TCP connect and the banner exchange; this outer bound
    // also covers a server that stalls later in key exchange or authentication.
    let bound = target.connect_timeout * 2 + Duration::from_secs(10);
    let result = tokio::time::timeout(bound, builder.connect(host)).await;
    let _ = fs::remove_file(&key_path);
    match result {
        Err(_) => Err(NodeError::Unreachable(format!(
            "no SSH connection to {host}:{} after {bound:?}",
            target.port
        ))),
        Ok(Ok(session)) => Ok(session),
        Ok(Err(e)) => Err(connect_error(&e)),
    }
}

/// Maps a failed master start: a host key mismatch, or anything else (unreachable).
fn connect_error(e: &openssh::Error) -> NodeError {
    let text = openssh_error_text(e);
    // openssh reports ssh's log (`-E`) as the error's io::Error message. A wrong key ends with
    // "Host key verification failed." after a banner; a server offering no key type we pinned
    // fails earlier, in key exchange.
    if text.contains("Host key verification failed") {
        let sent = text
            .lines()
            .skip_while(|l| !l.contains("sent by the remote host is"))
            .take(2)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        NodeError::HostKey(if sent.is_empty() {
            "Host key verification failed".into()
        } else {
            sent
        })
    } else if text.contains("no matching host key type found") {
        NodeError::HostKey(text)
    } else {
        NodeError::Unreachable(text)
    }
}

/// An openssh error with its source (where ssh's own message is).
fn openssh_error_text(e: &openssh::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(source) if !source.to_string().trim().is_empty() => {
            format!("{e}: {}", source.to_string().trim())
        }
        _ => e.to_string(),
    }
}

/// The master's `ssh_config`, given with `-F`. Options given on the command line by openssh
/// (BatchMode, StrictHostKeyChecking, port, user, key...) take precedence over it.
fn ssh_config(known_hosts: &Path) -> Result<String, NodeError> {
    let kh = known_hosts
        .to_str()
        .filter(|p| !p.contains('"'))
        .ok_or_else(|| NodeError::Invalid(format!("unusable temp path {known_hosts:?}")))?;
    Ok(format!(
        "# Written by Proxlab for one node; replaces ~/.ssh/config and /etc/ssh/ssh_config.\n\
         UserKnownHostsFile \"{kh}\"\n\
         GlobalKnownHostsFile /dev/null\n\
         StrictHostKeyChecking yes\n\
         CheckHostIP no\n\
         UpdateHostKeys no\n\
         HashKnownHosts no\n\
         IdentityAgent none\n\
         IdentitiesOnly yes\n\
         PreferredAuthentications publickey\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         ForwardAgent no\n\
         ForwardX11 no\n\
         LogLevel ERROR\n"
    ))
}

/// A host name or IP address that `ssh` can only take as its destination: no leading `-`
/// (it would be read as an option), no spaces or shell/ssh metacharacters. IPv6 may come in
/// brackets; they are removed.
fn check_host(host: &str) -> Result<String, NodeError> {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    let ok = !h.is_empty()
        && !h.starts_with('-')
        && h.len() <= 253
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if ok {
        Ok(h.to_string())
    } else {
        Err(NodeError::Invalid(format!(
            "not a valid SSH host: {host:?}"
        )))
    }
}

fn check_user(user: &str) -> Result<(), NodeError> {
    let ok = !user.is_empty()
        && !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(NodeError::Invalid(format!(
            "not a valid SSH user: {user:?}"
        )))
    }
}

/// The known_hosts file for `host:port`: one `[host]:port keytype base64` line per pinned key
/// (plain `host` on port 22, as ssh looks it up there). Each key's blob must decode and name
/// its own key type; anything else is refused.
fn known_hosts(host: &str, port: u16, pinned: &str) -> Result<String, NodeError> {
    let name = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    let mut out = String::new();
    for line in pinned.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (kind, blob) = match fields.as_slice() {
            [kind, blob, ..] if KEY_TYPES.contains(kind) => (*kind, *blob),
            [_host, kind, blob, ..] if KEY_TYPES.contains(kind) => (*kind, *blob),
            _ => {
                return Err(NodeError::Invalid(format!(
                    "not an SSH host public key (\"ssh-ed25519 AAAA...\" or a known_hosts \
                     line): {:?}",
                    line.chars().take(80).collect::<String>()
                )));
            }
        };
        if !blob_names(blob, kind) {
            return Err(NodeError::Invalid(format!(
                "the {kind} host key is not valid base64 of a {kind} key"
            )));
        }
        out.push_str(&format!("{name} {kind} {blob}\n"));
    }
    if out.is_empty() {
        return Err(NodeError::Invalid("no SSH host key is pinned".into()));
    }
    Ok(out)
}

/// Whether `blob` is base64 of an SSH public key whose leading string is `kind`.
fn blob_names(blob: &str, kind: &str) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(blob) else {
        return false;
    };
    let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
        return false;
    };
    let len = u32::from_be_bytes(*len) as usize;
    rest.get(..len) == Some(kind.as_bytes()) && rest.len() > len
}

/// A fresh directory only this user can enter, removed with everything in it on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create() -> Result<Self, NodeError> {
        let base = std::env::temp_dir();
        for _ in 0..8 {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).expect("the OS random source is available");
            let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
            let path = base.join(format!("proxlab-ssh-{name}"));
            // `create`, not `create_all`: an existing path (someone else's) is an error, and
            // the mode applies from the start, with no window in which the dir is readable.
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Self(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(NodeError::Io(std::io::Error::other(
            "could not create a private temp directory",
        )))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn write_private(path: &Path, data: &[u8], mode: u32) -> Result<(), NodeError> {
    let _ = fs::remove_file(path);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(data)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "AAAAC3NzaC1lZDI1NTE5AAAAICpcYSX9KwKr0UzBvr3AUqvj0btw8CHCGj5vJ9r5p/8b";

    #[test]
    fn known_hosts_accepts_bare_and_known_hosts_lines() {
        let pinned =
            format!("ssh-ed25519 {ED} root@pve\n\n# comment\r\npve1,10.0.0.1 ssh-ed25519 {ED}\n");
        assert_eq!(
            known_hosts("10.0.0.1", 2222, &pinned).unwrap(),
            format!("[10.0.0.1]:2222 ssh-ed25519 {ED}\n[10.0.0.1]:2222 ssh-ed25519 {ED}\n")
        );
        assert_eq!(
            known_hosts("pve1", 22, &format!("ssh-ed25519 {ED}")).unwrap(),
            format!("pve1 ssh-ed25519 {ED}\n")
        );
    }

    #[test]
    fn known_hosts_refuses_garbage() {
        for bad in [
            "",
            "hello",
            "ssh-ed25519",
            "ssh-ed25519 not-base64!",
            &format!("ssh-rsa {ED}"),
            &format!("@cert-authority * ssh-ed25519 {ED}"),
            "ssh-ed25519 AAAA",
        ] {
            assert!(
                matches!(known_hosts("h", 22, bad), Err(NodeError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hosts_that_could_be_options_are_refused() {
        assert_eq!(check_host("[::1]").unwrap(), "::1");
        assert_eq!(check_host("pve-1.lab").unwrap(), "pve-1.lab");
        for bad in [
            "",
            "-oProxyCommand=x",
            "a b",
            "a;b",
            "user@host",
            "h\nx",
            "[]",
        ] {
            assert!(check_host(bad).is_err(), "{bad:?}");
        }
        assert!(check_user("root").is_ok());
        assert!(check_user("-x").is_err());
    }

    #[test]
    fn host_key_failure_is_recognised() {
        let log = "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
                   The fingerprint for the ED25519 key sent by the remote host is\n\
                   SHA256:42e/m5q6.\nHost key verification failed.\n";
        let e = openssh::Error::Connect(std::io::Error::other(log));
        match connect_error(&e) {
            NodeError::HostKey(m) => assert_eq!(
                m,
                "The fingerprint for the ED25519 key sent by the remote host is SHA256:42e/m5q6."
            ),
            other => panic!("{other:?}"),
        }
        let e = openssh::Error::Connect(std::io::Error::other(
            "ssh: connect to host 127.0.0.1 port 1: Connection refused",
        ));
        assert!(matches!(connect_error(&e), NodeError::Unreachable(_)));
    }
}
