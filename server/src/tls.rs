//! Built-in HTTPS (`tls_cert` + `tls_key`): rustls in front of the same router.
//!
//! * **Renewals need no restart.** The certificate and key are read again on SIGHUP (what a
//!   certbot deploy hook sends); a pair that does not load, or whose key does not match the
//!   certificate, is refused with a log line and the one in use stays. New connections get
//!   the new pair; open ones keep theirs.
//! * **One slow client does not hold up the rest.** Handshakes run in their own tasks (10 s
//!   at most each); the listener hands axum only finished ones. axum's `serve` takes any
//!   [`Listener`], so the router, the graceful shutdown and the client address
//!   (`ConnectInfo`) are the plain-HTTP ones.
//! * **`http_redirect_listen`** answers plain HTTP with a permanent redirect to the same path
//!   on `public_url` (or on this host's HTTPS port).
//!
//! Written here rather than taken from a crate: axum-server would bring a second server
//! stack beside axum's own `serve`, and the whole of it is a listener and a reloadable
//! certificate resolver on rustls, which the build already has.

use axum::serve::Listener;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client gets to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate and key files, and the pair loaded from them last.
#[derive(Debug)]
pub struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertFiles {
    /// Loads the pair; an unreadable file, a key that does not match, or no certificate at
    /// all is an error that says which.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<CertFiles> {
        Ok(CertFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(read_pair(cert, key)?)),
        })
    }

    /// Reads the files again; on an error the pair in use stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let pair = read_pair(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pair);
        Ok(())
    }
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_pair(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    use anyhow::Context;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("tls_cert {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("tls_cert {}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("tls_cert {}: no PEM certificate in it", cert.display());
    }
    let key_der =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("tls_key {}", key.display()))?;
    let pair = CertifiedKey::from_der(chain, key_der, &provider()).with_context(|| {
        format!(
            "tls_key {} does not fit tls_cert {}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(pair)
}

/// The rustls configuration over `certs`: TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN.
pub fn acceptor(certs: Arc<CertFiles>) -> anyhow::Result<TlsAcceptor> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TCP listener whose connections come out TLS-terminated (see the module doc).
pub struct TlsListener {
    done: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`, until `shutdown`; the accept loop is one of `tasks`.
    pub fn new(
        tcp: TcpListener,
        acceptor: TlsAcceptor,
        tasks: &tokio_util::task::TaskTracker,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, done) = mpsc::channel(64);
        tasks.spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = tcp.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            // Out of file descriptors and the like: wait, as axum's own does.
                            tracing::warn!(error = %e, "TLS listener: accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    () = shutdown.cancelled() => break,
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { done, local })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.done.recv().await {
            Some(connection) => connection,
            // The accept loop stopped (shutdown): no more connections, ever.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Reloads `certs` on every SIGHUP, until `shutdown`; one of `tasks`.
pub fn reload_on_sighup(
    certs: Arc<CertFiles>,
    tasks: &tokio_util::task::TaskTracker,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tasks.spawn(async move {
        loop {
            tokio::select! {
                got = hangups.recv() => if got.is_none() { break },
                () = shutdown.cancelled() => break,
            }
            match certs.reload() {
                Ok(()) => tracing::info!(cert = %certs.cert.display(), "SIGHUP: TLS certificate reloaded"),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "SIGHUP: TLS certificate not reloaded; the one in use stays"),
            }
        }
    });
    Ok(())
}

/// The plain-HTTP listener's answer: a permanent redirect to the same path over HTTPS, on
/// `public_url` when it is set, else on the request's host at `https_port`.
pub fn redirect_router(public_url: Option<String>, https_port: u16) -> axum::Router {
    use axum::http::{HeaderMap, StatusCode, Uri, header};
    use axum::response::IntoResponse;
    axum::Router::new().fallback(move |headers: HeaderMap, uri: Uri| {
        let public_url = public_url.clone();
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let base = match public_url {
                Some(url) => url.trim_end_matches('/').to_owned(),
                None => {
                    let host = headers
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .and_then(host_name)
                        .unwrap_or_else(|| "localhost".into());
                    match https_port {
                        443 => format!("https://{host}"),
                        port => format!("https://{host}:{port}"),
                    }
                }
            };
            (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, format!("{base}{path}"))],
            )
                .into_response()
        }
    })
}

/// The host part of a `Host` header (`lab.example:80` → `lab.example`, `[::1]:80` → `[::1]`),
/// or `None` when it is not a plain host name or address (nothing to inject into the
/// redirect).
fn host_name(host: &str) -> Option<String> {
    let name = if let Some(rest) = host.strip_prefix('[') {
        format!("[{}]", rest.split(']').next()?)
    } else {
        host.split(':').next()?.to_owned()
    };
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c));
    (plain && !name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn redirects_keep_only_a_plain_host() {
        assert_eq!(host_name("lab.example:80").as_deref(), Some("lab.example"));
        assert_eq!(host_name("10.0.0.5").as_deref(), Some("10.0.0.5"));
        assert_eq!(host_name("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(host_name("evil.example/x"), None);
        assert_eq!(host_name("a@b"), None);
        assert_eq!(host_name(""), None);
    }
}
