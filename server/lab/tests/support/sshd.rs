//! A real, throw-away OpenSSH server for integration tests: include it with
//! `#[path = "support/sshd.rs"] mod sshd;`.
//!
//! [`Sshd::start`] generates an ed25519 host key and client key in a temp dir, writes an
//! `sshd_config` for 127.0.0.1 on a free port, and runs `/usr/sbin/sshd -D -e` as a child
//! (killed, with every session process it forked, on drop). Needs openssh-server
//! (`scripts/setup.sh test` installs it) and, since sshd drops privileges per connection,
//! its privilege separation directory `/run/sshd`, which is created if missing.

#![allow(dead_code)]

#[path = "procs.rs"]
mod procs;
use procs::{descendants, free_port};

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    child: Option<Child>,
}

impl Sshd {
    /// An sshd allowing 20 sessions (channels) per connection.
    pub fn start() -> Sshd {
        Self::start_with_max_sessions(20)
    }

    /// An sshd with `MaxSessions max_sessions` (OpenSSH's default is 10).
    pub fn start_with_max_sessions(max_sessions: u32) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} not found: the SSH node tests need a real OpenSSH server; \
             run `apt-get install openssh-server` (scripts/setup.sh test does)"
        );
        ensure_privsep_dir();
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        keygen(&d.join("host_ed25519"));
        keygen(&d.join("client_ed25519"));
        std::fs::copy(d.join("client_ed25519.pub"), d.join("authorized_keys"))
            .expect("write authorized_keys");
        let user = output(Command::new("id").arg("-un")).trim().to_string();
        let mut sshd = Sshd {
            dir,
            port: 0,
            user,
            child: None,
        };
        // A free port can be taken by someone else between our probe and sshd's bind: then
        // sshd exits at once, and we try another one.
        for _ in 0..5 {
            sshd.port = free_port();
            sshd.write_config(max_sessions);
            if sshd.spawn().is_ok() {
                return sshd;
            }
        }
        panic!("sshd did not start; its log:\n{}", sshd.log());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user tests log in as: whoever runs them (`id -un`).
    pub fn user(&self) -> String {
        self.user.clone()
    }

    /// The client's private key, OpenSSH PEM format.
    pub fn client_key_pem(&self) -> String {
        read(&self.dir.path().join("client_ed25519"))
    }

    /// The client's public key line (`ssh-ed25519 AAAA...`): a valid key that is *not* the
    /// host key, handy as a wrong pin.
    pub fn client_key_line(&self) -> String {
        read(&self.dir.path().join("client_ed25519.pub"))
            .trim()
            .to_string()
    }

    /// The host's public key line (`ssh-ed25519 AAAA...`), to pin.
    pub fn host_key_line(&self) -> String {
        read(&self.dir.path().join("host_ed25519.pub"))
            .trim()
            .to_string()
    }

    /// A target for this server, with short timeouts (connect 5 s, command 20 s).
    pub fn target(&self) -> lab::node::SshTarget {
        lab::node::SshTarget {
            host: "127.0.0.1".into(),
            port: self.port,
            user: self.user(),
            key: secrecy::SecretString::from(self.client_key_pem()),
            host_keys: self.host_key_line(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(20),
        }
    }

    /// Points a cluster form's node-operation settings at this server.
    pub fn fill_cluster_form(&self, form: &mut lab::model::ClusterForm) {
        form.ssh_user = self.user();
        form.ssh_port = self.port().to_string();
        form.ssh_key = self.client_key_pem();
        form.ssh_host_keys = self.host_key_line();
    }

    /// A scratch directory the tests' remote commands may write to (sshd runs on this host).
    pub fn scratch(&self) -> PathBuf {
        let p = self.dir.path().join("scratch");
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    }

    /// Stops sshd *and* the session processes it forked (each calls setsid, so they are not
    /// in its process group): the clients' connections drop, as when a node reboots.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut pids = descendants(child.id());
        pids.push(child.id());
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
        let _ = child.wait();
    }

    /// Starts sshd again on the same port with the same keys.
    pub fn restart(&mut self) {
        self.kill();
        // The old listener is gone; sshd binds with SO_REUSEADDR, but retry briefly anyway.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.spawn().is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not restart on port {}; its log:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Live `ssh -M` master processes (ours, openssh's) connected to this server's port.
    pub fn ssh_masters(&self) -> usize {
        let port = self.port.to_string();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .filter(|cmdline| {
                let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                argv.first().is_some_and(|a| *a == b"ssh")
                    && argv.contains(&&b"-M"[..])
                    && argv
                        .windows(2)
                        .any(|w| w[0] == b"-p" && w[1] == port.as_bytes())
            })
            .count()
    }

    /// Waits until no `ssh` master to this server is left (after [`kill`](Self::kill), the
    /// client notices the dropped connection and exits within milliseconds).
    pub fn wait_masters_gone(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.ssh_masters() > 0 {
            assert!(Instant::now() < deadline, "the ssh master did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("sshd_config")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("sshd.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn write_config(&self, max_sessions: u32) {
        let d = self.dir.path().display();
        let config = format!(
            "ListenAddress 127.0.0.1\n\
             Port {port}\n\
             HostKey {d}/host_ed25519\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             PidFile {d}/sshd.pid\n\
             UsePAM no\n\
             StrictModes no\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             MaxSessions {max_sessions}\n\
             MaxStartups 100\n\
             LogLevel ERROR\n",
            port = self.port
        );
        std::fs::write(self.config_path(), config).expect("write sshd_config");
    }

    /// Runs sshd and waits until it accepts connections; Err if it exits first.
    fn spawn(&mut self) -> Result<(), ()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("sshd log");
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("run sshd");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if child.try_wait().expect("sshd status").is_some() {
                return Err(());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "sshd did not listen on {}; its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        if let Err(e) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
        {
            panic!("sshd needs its privilege separation directory /run/sshd: {e}");
        }
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-C", "proxlab-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen (apt-get install openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run command");
    assert!(out.status.success(), "{cmd:?} failed");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
