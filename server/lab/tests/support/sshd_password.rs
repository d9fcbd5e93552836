//! A real, throw-away OpenSSH server with **password** authentication, for the tests of SSH
//! through the portal: include it with `#[path = "support/sshd_password.rs"] mod sshd_password;`.
//!
//! It listens on port 22 inside its own network namespace ([`netns`]), at an address that is
//! neither loopback nor this host's: the portal refuses SSH to those, as it must.
//!
//! No system user is created and no system file is changed: sshd runs inside a private mount
//! namespace (`unshare --mount --propagation private`) where a temporary `/etc/shadow`
//! (root, with the test's password, hashed by `openssl passwd -6`) is bind-mounted over the
//! real one. The mount exists only in that namespace and vanishes with sshd:
//! [`PasswordSshd::start`] checks that the test's own namespace does not see it. Needs root
//! (for the mount namespace), `unshare` (util-linux), `openssl` and openssh-server.
//!
//! sshd logs at VERBOSE, so [`PasswordSshd::connections`] counts the TCP connections it
//! accepted (tests use it to prove a refusal connected nowhere).

#![allow(dead_code)]

#[path = "netns.rs"]
mod netns;
#[path = "procs.rs"]
mod procs;
use netns::Netns;
use procs::descendants;

use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

pub struct PasswordSshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// Declared last: dropped after sshd is killed.
    netns: Netns,
}

impl PasswordSshd {
    /// sshd on port 22 of a fresh namespace's address, where `root` logs in with `password`.
    pub fn start(password: &str) -> PasswordSshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} not found: run `apt-get install openssh-server` (scripts/setup.sh test does)"
        );
        if !Path::new("/run/sshd").is_dir() {
            std::fs::create_dir_all("/run/sshd").expect("sshd's privilege separation directory");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let status = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-t", "ed25519", "-C", "proxlab-test", "-f"])
            .arg(d.join("host_ed25519"))
            .stdin(Stdio::null())
            .status()
            .expect("run ssh-keygen");
        assert!(status.success(), "ssh-keygen failed");
        let hash = Command::new("openssl")
            .args(["passwd", "-6", "-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(format!("{password}\n").as_bytes())?;
                child.wait_with_output()
            })
            .expect("run openssl passwd");
        assert!(hash.status.success(), "openssl passwd failed");
        let hash = String::from_utf8(hash.stdout).unwrap().trim().to_string();
        assert!(hash.starts_with("$6$"), "{hash}");
        std::fs::write(
            d.join("shadow"),
            format!("root:{hash}:20000:0:99999:7:::\nsshd:*:20000:0:99999:7:::\n"),
        )
        .expect("write shadow");
        let mut sshd = PasswordSshd {
            dir,
            port: 22,
            child: None,
            netns: Netns::new(100, None),
        };
        sshd.write_config();
        if sshd.spawn().is_ok() {
            sshd.check_mount_is_private();
            return sshd;
        }
        panic!("sshd did not start; its log:\n{}", sshd.log());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// sshd's address (the namespace's end of the veth pair).
    pub fn ip(&self) -> IpAddr {
        self.netns.inside
    }

    /// The /30 sshd's address is in: the cluster's VM subnet in the tests.
    pub fn subnet(&self) -> &str {
        &self.netns.subnet
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// TCP connections sshd accepted so far (its VERBOSE "Connection from" lines).
    pub fn connections(&self) -> usize {
        self.log().matches("Connection from ").count()
    }

    /// The temporary shadow is mounted where sshd runs, and not here.
    fn check_mount_is_private(&self) {
        let pid = self.child.as_ref().expect("sshd runs").id();
        let mounted = |mountinfo: &str| {
            mountinfo
                .lines()
                .any(|l| l.split(' ').nth(4) == Some("/etc/shadow"))
        };
        let theirs = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        assert!(mounted(&theirs), "sshd's namespace has the test shadow");
        let ours = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounted(&ours),
            "the test shadow leaked out of sshd's namespace"
        );
    }

    fn write_config(&self) {
        let d = self.dir.path().display();
        let config = format!(
            "ListenAddress {ip}\n\
             Port {port}\n\
             HostKey {d}/host_ed25519\n\
             PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile none\n\
             UsePAM no\n\
             StrictModes no\n\
             PubkeyAuthentication no\n\
             PasswordAuthentication yes\n\
             PermitEmptyPasswords no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin yes\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             MaxStartups 100\n\
             LogLevel VERBOSE\n",
            ip = self.ip(),
            port = self.port
        );
        std::fs::write(self.dir.path().join("sshd_config"), config).expect("write sshd_config");
    }

    fn spawn(&mut self) -> Result<(), ()> {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("sshd.log"))
            .expect("sshd log");
        // ip netns exec, unshare and sh exec, so the child's pid is sshd's.
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.netns.name])
            .args([
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
            ])
            .arg(format!(
                "mount --bind \"$1\" /etc/shadow && exec {SSHD} -D -e -f \"$2\""
            ))
            .arg("sh")
            .arg(d.join("shadow"))
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("run unshare");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if child.try_wait().expect("sshd status").is_some() {
                return Err(());
            }
            if TcpStream::connect((self.ip(), self.port)).is_ok() {
                self.child = Some(child);
                // That probe is a connection too: wait for its line, then count from there.
                let deadline = Instant::now() + Duration::from_secs(5);
                while self.connections() == 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = std::fs::write(d.join("sshd.log"), "");
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sshd did not listen; its log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
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

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for PasswordSshd {
    fn drop(&mut self) {
        self.kill();
    }
}
