//! Logging with `tracing`: human-readable by default, JSON lines with `--log-json`. The level
//! comes from `RUST_LOG` (default `info`). Logs go to standard error, so that a command's
//! output on standard output (`proxlab jobs list`, `cluster list`) is only its answer.

use tracing_subscriber::EnvFilter;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
