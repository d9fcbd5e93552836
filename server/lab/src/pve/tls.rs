//! Certificate pinning for PVE's self-signed certificates.
//!
//! Every PVE node serves its own certificate, signed by a cluster CA nobody else trusts, so
//! system roots are useless for most installations. Like PVE itself (cross-node proxying)
//! and SSH host keys, the admin pins the SHA-256 fingerprint of the leaf certificate.
//! [`Pinned`] accepts exactly that leaf and still checks the handshake signatures, so the
//! server must hold the certificate's private key. Name and expiry are not checked: the pin
//! is the identity (PVE addresses nodes by IP, and its certificates outlive their dates in
//! practice). [`fetch_fingerprint`] shows the admin what to pin; it is the only code that
//! looks at a certificate without trusting it, and it never completes a handshake.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use super::error::{Error, Mismatch, find_rustls, tls_error};

/// `AA:BB:…` (upper case, 32 colon-separated bytes) of a DER certificate.
pub(crate) fn fingerprint_of(der: &[u8]) -> String {
    let hex: Vec<String> = Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    hex.join(":")
}

/// Accepts `AA:BB:…`, lower case, or 64 bare hex digits; returns the canonical form.
pub(crate) fn normalize_fingerprint(text: &str) -> Result<String, Error> {
    let hex: String = text.trim().chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::Invalid(
            "fingerprint must be a SHA-256 (32 hex bytes, e.g. AA:BB:…)".into(),
        ));
    }
    let bytes: Vec<String> = hex
        .to_ascii_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Ok(bytes.join(":"))
}

fn provider() -> Arc<CryptoProvider> {
    // Explicit: reqwest brings aws-lc-rs, the workspace ring; rustls won't pick between two.
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts exactly the pinned leaf certificate.
#[derive(Debug)]
struct Pinned {
    expected: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = fingerprint_of(end_entity);
        if actual == self.expected {
            return Ok(ServerCertVerified::assertion());
        }
        let m = Mismatch {
            expected: self.expected.clone(),
            actual,
        };
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            rustls::OtherError(Arc::new(m)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls configuration that trusts only the certificate with this (canonical) pin.
pub(crate) fn pinned_config(expected: &str) -> Result<rustls::ClientConfig, Error> {
    let provider = provider();
    let verifier = Pinned {
        expected: expected.to_string(),
        provider: provider.clone(),
    };
    config_with(provider, Arc::new(verifier))
}

/// A client config for PVE with `verifier` (pveproxy speaks HTTP/1.1 only).
fn config_with(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<rustls::ClientConfig, Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The system's trusted roots (as reqwest uses them), for connections made without reqwest.
pub(crate) fn system_config() -> Result<rustls::ClientConfig, Error> {
    let provider = provider();
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| Error::Tls(e.to_string()))?;
    config_with(provider, Arc::new(verifier))
}

/// Records the leaf certificate's fingerprint and then refuses it, so the handshake stops
/// right there: nothing can ever be sent over such a connection.
#[derive(Debug)]
struct Capture {
    seen: Mutex<Option<String>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(fingerprint_of(end_entity));
        Err(rustls::Error::General(
            "certificate recorded, not trusted".into(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not trusted".into()))
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not trusted".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Normalises a base URL to `https://host[:port]`; `/api2/json` is stripped.
pub(crate) fn base_url(text: &str) -> Result<String, Error> {
    let trimmed = text.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api2/json").unwrap_or(trimmed);
    let url =
        reqwest::Url::parse(trimmed).map_err(|e| Error::Invalid(format!("URL '{text}': {e}")))?;
    if url.scheme() != "https" {
        return Err(Error::Invalid(format!("URL '{text}' must use https")));
    }
    let plain = url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none();
    if !plain {
        return Err(Error::Invalid(format!(
            "URL '{text}' must look like https://host:8006"
        )));
    }
    Ok(url.origin().ascii_serialization())
}

/// Connects to `url` (`https://host:8006`, `/api2/json` allowed), reads the server's leaf
/// certificate during the TLS handshake and returns its SHA-256 as `AA:BB:…`. The handshake
/// is aborted as soon as the certificate is seen; no request is ever sent.
pub async fn fetch_fingerprint(url: &str, timeout: Duration) -> Result<String, Error> {
    let base = base_url(url)?;
    let parsed = reqwest::Url::parse(&base).map_err(|e| Error::Invalid(e.to_string()))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host = parsed
        .host_str()
        .ok_or_else(|| Error::Invalid(format!("no host in '{url}'")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let name = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::from(ip),
        Err(_) => ServerName::try_from(host.clone()).map_err(|e| Error::Invalid(e.to_string()))?,
    };
    let provider = provider();
    let capture = Arc::new(Capture {
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| Error::Connect(e.to_string()))?;
        // Expected to fail (Capture refuses every certificate); dropping closes the socket.
        connector
            .connect(name, tcp)
            .await
            .map(drop)
            .map_err(|e| match find_rustls(&e) {
                Some(tls) => tls_error(tls),
                None => Error::Tls(e.to_string()),
            })
    };
    let result = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| Error::Timeout)?;
    let seen = capture
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    match (seen, result) {
        (Some(fp), _) => Ok(fp),
        (None, Err(e)) => Err(e),
        (None, Ok(())) => Err(Error::Tls("no certificate presented".into())),
    }
}
