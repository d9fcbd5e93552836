//! The `proxlab` server: command line, settings, start-up and graceful shutdown, and the axum
//! router around the Leptos app. The domain lives in `lab`; this crate only wires it up.

mod audit_export;
pub mod cli;
pub mod commands;
mod console;
mod cookie_session;
mod guard;
mod headers;
mod iso_upload;
pub mod malloc;
pub mod metrics;
pub mod rate_limit;
mod rdp;
pub mod router;
mod services;
pub mod settings;
mod ssh;
mod systemd;
pub mod telemetry;
mod terminal;
mod tls;

pub use router::{Portal, build_router, start};
pub use settings::Settings;
