//! Running as a service: the portal tells systemd it is ready, pings its watchdog and says
//! when it stops (a real `NOTIFY_SOCKET`, as systemd makes one); and the Debian package
//! (`PROXLAB_TEST_DEB`, built by `scripts/deb.sh`; the README's test command sets it) unpacked in
//! a throw-away root: its control data, conffile, maintainer scripts and hardened unit, then
//! the unit's own `ExecStart` line run from that root with its environment, on its packaged
//! configuration and site, answering `/health` and serving the site.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support {
    pub mod portal;
}

/// A datagram socket standing in for systemd's notify socket.
struct Notify {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Notify {
    fn new(dir: &Path) -> Notify {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Notify { socket, path }
    }

    /// Waits (10 s at most) for a message holding `line`; `log` is shown if it never comes.
    fn expect(&self, line: &str, log: &Path) {
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(n) = self.socket.recv(&mut buf)
                && String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .any(|l| l == line)
            {
                return;
            }
        }
        let said = std::fs::read_to_string(log).unwrap_or_default();
        panic!("systemd never heard {line}; the portal said:\n{said}");
    }
}

/// The status of `GET url` (`http://host:port/path`), by hand over a TCP stream: the test
/// machines need no HTTP client program for it.
fn get(url: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn wait_for(url: &str) {
    let started = Instant::now();
    while get(url) != Some(200) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{url} never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn systemd_hears_ready_watchdog_pings_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let notify = Notify::new(dir.path());
    let port = support::portal::free_port();
    let db = format!("sqlite://{}", dir.path().join("portal.db").display());
    let mut portal = support::portal::Running(
        support::portal::serve(dir.path(), &db, &format!("127.0.0.1:{port}"))
            .env("NOTIFY_SOCKET", &notify.path)
            .env("WATCHDOG_USEC", "200000")
            .spawn()
            .unwrap(),
    );
    let log = dir.path().join("portal.log");
    notify.expect("READY=1", &log);
    assert_eq!(get(&format!("http://127.0.0.1:{port}/health")), Some(200));
    notify.expect("WATCHDOG=1", &log);
    notify.expect("WATCHDOG=1", &log);
    let status = terminate(&mut portal.0);
    notify.expect("STOPPING=1", &log);
    assert!(status.success(), "{status}");
}

/// The `key=value` lines of a unit's `[Service]` section (repeated keys kept in order).
fn service_lines(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .skip_while(|l| l.trim() != "[Service]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn the_package_unpacks_and_its_unit_serves() {
    let Ok(deb) = std::env::var("PROXLAB_TEST_DEB") else {
        assert!(
            std::env::var("PROXLAB_TEST_REQUIRE_DEB").is_err(),
            "PROXLAB_TEST_REQUIRE_DEB is set but PROXLAB_TEST_DEB is not"
        );
        eprintln!("PROXLAB_TEST_DEB not set (scripts/deb.sh builds the package): not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let control_dir = root.join("DEBIAN");
    for (what, into) in [("-x", &root), ("-e", &control_dir)] {
        let unpacked = Command::new("dpkg-deb")
            .arg(what)
            .arg(&deb)
            .arg(into)
            .status()
            .unwrap();
        assert!(unpacked.success(), "dpkg-deb {what}");
    }
    let read =
        |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));

    // Control data and maintainer scripts.
    let control = read("DEBIAN/control");
    assert!(control.contains("Package: proxlab\n"), "{control}");
    assert!(control.contains("Architecture: amd64\n"), "{control}");
    let depends = control.lines().find(|l| l.starts_with("Depends:")).unwrap();
    assert!(
        depends.contains("adduser") && depends.contains("libc6"),
        "{depends}"
    );
    assert_eq!(read("DEBIAN/conffiles").trim(), "/etc/proxlab/proxlab.toml");
    // The Grafana dashboard for /metrics, as it is in contrib/.
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("usr/share/doc/proxlab/grafana-dashboard.json")).unwrap();
    assert_eq!(dashboard["uid"], "proxlab-overview");
    let postinst = read("DEBIAN/postinst");
    assert!(
        postinst.contains("adduser --system") && postinst.contains(" migrate"),
        "{postinst}"
    );
    assert!(postinst.contains("setup-link"), "{postinst}");
    assert!(
        postinst.contains("systemctl") || postinst.contains("deb-systemd"),
        "{postinst}"
    );
    let postrm = read("DEBIAN/postrm");
    assert!(
        postrm.contains("\"purge\"") && postrm.contains("rm -rf /var/lib/proxlab"),
        "{postrm}"
    );

    // The hardened unit.
    let unit_path = [
        "usr/lib/systemd/system/proxlab.service",
        "lib/systemd/system/proxlab.service",
    ]
    .into_iter()
    .find(|p| root.join(p).is_file())
    .expect("the unit file is in the package");
    let service = service_lines(&read(unit_path));
    let value = |key: &str| {
        service
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{key} missing from the unit"))
    };
    for (key, want) in [
        ("Type", "notify"),
        ("User", "proxlab"),
        ("StateDirectory", "proxlab"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("Restart", "on-failure"),
        ("WatchdogSec", "60"),
    ] {
        assert_eq!(value(key), want, "{key}");
    }

    // The unit's ExecStart and Environment, run from the unpacked root: every absolute path
    // of the package points into it; the state goes to a temporary folder (the packaged
    // configuration's /var/lib/proxlab, overridden the way the README says environment
    // variables do).
    let in_root = |text: &str| {
        text.split(' ')
            .map(|word| match word.strip_prefix('/') {
                Some(path) if root.join(path).exists() => root.join(path).display().to_string(),
                _ => word.to_owned(),
            })
            .collect::<Vec<_>>()
    };
    let exec = in_root(value("ExecStart"));
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let port = support::portal::free_port();
    let notify = Notify::new(dir.path());
    let mut command = Command::new(&exec[0]);
    command.args(&exec[1..]);
    for (_, assignment) in service.iter().filter(|(k, _)| k == "Environment") {
        let (name, path) = assignment.split_once('=').unwrap();
        command.env(name, in_root(path).join(" "));
    }
    let mut portal = support::portal::Running(
        command
            .env_remove("DATABASE_URL")
            .env_remove("LEPTOS_OUTPUT_NAME")
            .env(
                "PROXLAB_DATABASE_URL",
                format!("sqlite://{}/proxlab.db", state.display()),
            )
            .env("PROXLAB_SECRET_KEY_FILE", state.join("secret.key"))
            .env("PROXLAB_UPLOAD_DIR", &state)
            .env("PROXLAB_LISTEN", format!("127.0.0.1:{port}"))
            .env("NOTIFY_SOCKET", &notify.path)
            .current_dir(&state)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("unit.log")).unwrap(),
            ))
            .spawn()
            .unwrap(),
    );
    notify.expect("READY=1", &dir.path().join("unit.log"));
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{base}/health"));
    // The packaged site: the stylesheet, the wasm's loader, the browser libraries.
    assert_eq!(get(&format!("{base}/pkg/proxlab.css")), Some(200));
    assert_eq!(get(&format!("{base}/pkg/proxlab.js")), Some(200));
    assert_eq!(get(&format!("{base}/pkg/proxlab.wasm")), Some(200));
    assert_eq!(get(&format!("{base}/login")), Some(200));
    let status = terminate(&mut portal.0);
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(dir.path().join("unit.log")).unwrap_or_default()
    );
}
