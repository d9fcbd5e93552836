//! `proxlab serve` as a child process, for the tests and benches that need the real process
//! (SIGKILL, memory): its own SQLite file, secret key and address, logs to `dir/portal.log`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The checkout the tests run from, read when they run: clones share one target directory
/// (`~/.cache/proxlab/target`), and cargo may reuse a test binary another clone built from
/// the same sources, whose compile-time `env!("CARGO_MANIFEST_DIR")` names that other clone.
/// `cargo test` and `cargo bench` set the variable at run time too.
pub fn workspace() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().unwrap().to_owned()
}

/// The command, ready for more `.env(…)` and `.spawn()`.
pub fn serve(dir: &Path, db_url: &str, listen: &str) -> Command {
    let mut command = proxlab(dir, db_url, &["serve"]);
    command
        .env("PROXLAB_LISTEN", listen)
        .env("LEPTOS_SITE_ADDR", listen);
    command
}

/// `proxlab <args>` on the same database, key and log as [`serve`] (a command run beside a
/// serving portal).
pub fn proxlab(dir: &Path, db_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_proxlab"));
    command
        .args(args)
        .current_dir(workspace())
        .env_remove("DATABASE_URL")
        .env("PROXLAB_DATABASE_URL", db_url)
        .env("PROXLAB_SECRET_KEY_FILE", dir.join("secret.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("portal.log"))
                .unwrap(),
        ));
    command
}

/// A loopback port free right now (for a listener the test names up front).
#[allow(dead_code)] // not every test binary that includes this module needs it
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A portal process that is killed if the test fails before it stops it (a panic would
/// otherwise leave it running after the test).
#[allow(dead_code)] // not every test binary that includes this module needs it
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits (60 s at most) until `url`'s `/health` answers 200.
#[allow(dead_code)] // not every test binary that includes this module needs it
pub async fn wait_until_answering(url: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !reqwest::get(format!("{url}/health"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(std::time::Instant::now() < deadline, "{url} did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
