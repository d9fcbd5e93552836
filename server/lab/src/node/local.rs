//! [`LocalShell`]: node commands on this host (a portal installed on a Proxmox node, `demo`).

use super::{NodeError, Script};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[derive(Clone, Debug)]
pub struct LocalShell {
    /// A command that runs longer is killed.
    pub timeout: Duration,
}

impl Default for LocalShell {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
        }
    }
}

impl LocalShell {
    pub async fn run(&self, script: &Script, stdin: &[u8]) -> Result<Vec<u8>, NodeError> {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(script.as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut input = child.stdin.take().expect("stdin is piped");
        let data = stdin.to_vec();
        // Feed stdin concurrently with reading the output, so neither pipe can fill up.
        let feeder = tokio::spawn(async move {
            let _ = input.write_all(&data).await;
        });
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| NodeError::Timeout(self.timeout))??;
        let _ = feeder.await;
        super::output_result(out.status.code(), out.stdout, &out.stderr)
    }
}
