//! The HTTPS identity: a self-signed certificate generated at start (rcgen), served with
//! rustls (ring provider, HTTP/1.1 only: pveproxy has no HTTP/2), and its SHA-256
//! fingerprint in PVE's notation (`AA:BB:...`, upper case), which clients pin.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::Error;

/// Certificate material of one simulator.
pub(crate) struct Identity {
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: String,
    pub cert_pem: String,
}

pub(crate) fn generate() -> Result<Identity, Error> {
    let names = vec![
        "pve1".to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let key = rcgen::generate_simple_self_signed(names)?;
    let der = key.cert.der().clone();
    let fingerprint = fingerprint(&der);
    let cert_pem = key.cert.pem();
    let private = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    // An explicit provider: another crate in the same build may enable aws-lc-rs too, and
    // rustls refuses to guess between two.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![der], private)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity {
        config: Arc::new(config),
        fingerprint,
        cert_pem,
    })
}

/// `AA:BB:...` SHA-256 of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
