//! Errors of the library surface (starting a simulator). Errors that PVE sends over the wire
//! are not Rust errors here: they are answers, built in `api::reply`.

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Creating the root tree, seeding files or binding the port failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Generating the self-signed certificate failed.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    /// Building the TLS configuration failed.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    /// The settings cannot describe a cluster (for example zero nodes).
    #[error("invalid settings: {0}")]
    Config(String),
}
