//! A small HTTPS client for the tests: hyper over tokio-rustls with the certificate pinned
//! by SHA-256 fingerprint (as the portal pins PVE), exposing the raw status, the reason
//! phrase and the body, which higher-level clients hide.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use hyper::Request;
use hyper::ext::ReasonPhrase;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::Value;
use tokio_rustls::TlsConnector;

#[derive(Debug)]
struct Pinned {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        cert: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if pvesim::fingerprint(cert) == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "certificate fingerprint mismatch".into(),
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Ticket {
        ticket: String,
        csrf: Option<String>,
    },
    Token(String),
}

/// A raw answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub reason: String,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn data(&self) -> Value {
        self.json()["data"].clone()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    connector: TlsConnector,
    pub auth: Auth,
}

impl Client {
    pub fn new(sim: &pvesim::Sim) -> Self {
        Self::pinned(sim.addr(), sim.fingerprint())
    }

    pub fn pinned(addr: SocketAddr, fingerprint: &str) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                fingerprint: fingerprint.to_string(),
                provider,
            }))
            .with_no_client_auth();
        Client {
            addr,
            connector: TlsConnector::from(Arc::new(config)),
            auth: Auth::None,
        }
    }

    pub fn with_auth(&self, auth: Auth) -> Self {
        Client {
            auth,
            ..self.clone()
        }
    }

    /// Opens a TLS stream (for websocket tests).
    pub async fn tls(
        &self,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await?;
        self.connector
            .connect(ServerName::try_from("pve1").expect("name"), tcp)
            .await
    }

    /// Logs in and returns a client using the ticket (with CSRF token).
    pub async fn login(&self, user: &str, password: &str) -> Client {
        let r = self
            .call(
                "POST",
                "/access/ticket",
                &[("username", user), ("password", password)],
            )
            .await;
        assert_eq!(
            r.status, 200,
            "login of {user} failed: {} {}",
            r.status, r.reason
        );
        let d = r.data();
        self.with_auth(Auth::Ticket {
            ticket: d["ticket"].as_str().unwrap_or_default().into(),
            csrf: d["CSRFPreventionToken"].as_str().map(Into::into),
        })
    }

    /// Parameters go to the query string for GET/DELETE and to a form body otherwise.
    pub async fn call(&self, method: &str, path: &str, params: &[(&str, &str)]) -> Resp {
        let form = {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                s.append_pair(k, v);
            }
            s.finish()
        };
        let (uri_q, body) = if method == "GET" || method == "DELETE" {
            (form, String::new())
        } else {
            (String::new(), form)
        };
        self.raw(method, path, &uri_q, body, &[]).await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: String,
        extra: &[(&str, &str)],
    ) -> Resp {
        let encoded: String = path
            .split('/')
            .map(|s| s.replace('!', "%21"))
            .collect::<Vec<_>>()
            .join("/");
        let uri = if query.is_empty() {
            format!("/api2/json{encoded}")
        } else {
            format!("/api2/json{encoded}?{query}")
        };
        self.send(
            method,
            &uri,
            body,
            "application/x-www-form-urlencoded",
            extra,
        )
        .await
    }

    /// A `multipart/form-data` POST: `(name, file name if a file, content)` in order.
    pub async fn multipart(&self, path: &str, parts: &[(&str, Option<&str>, &str)]) -> Resp {
        let boundary = "pvesimtestboundary7f3a";
        let mut body = String::new();
        for (name, file, content) in parts {
            body.push_str(&format!("--{boundary}\r\n"));
            match file {
                Some(f) => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )),
                None => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                )),
            }
            body.push_str(content);
            body.push_str("\r\n");
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        self.send(
            "POST",
            &format!("/api2/json{path}"),
            body,
            &format!("multipart/form-data; boundary={boundary}"),
            &[],
        )
        .await
    }

    /// The control API (`/_sim/...`, JSON bodies).
    pub async fn control(&self, method: &str, path: &str, json: &str) -> Resp {
        self.send(method, path, json.to_string(), "application/json", &[])
            .await
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        body: String,
        content_type: &str,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "pve1:8006");
        if !body.is_empty() {
            req = req.header("content-type", content_type);
        }
        match &self.auth {
            Auth::None => {}
            Auth::Ticket { ticket, csrf } => {
                req = req.header(
                    "cookie",
                    format!(
                        "PVEAuthCookie={}",
                        ticket
                            .replace('+', "%2B")
                            .replace('=', "%3D")
                            .replace('/', "%2F")
                    ),
                );
                if let Some(c) = csrf {
                    req = req.header("CSRFPreventionToken", c.as_str());
                }
            }
            Auth::Token(t) => req = req.header("authorization", format!("PVEAPIToken={t}")),
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(body)).expect("request");
        let stream = self.tls().await.expect("tls connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let res = sender.send_request(req).await.expect("send");
        let status = res.status().as_u16();
        let reason = res
            .extensions()
            .get::<ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| res.status().canonical_reason().map(Into::into))
            .unwrap_or_default();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(Body::new(res.into_body()), 64 << 20)
            .await
            .expect("body")
            .to_vec();
        Resp {
            status,
            reason,
            headers,
            body,
        }
    }

    /// Waits for a task to stop and returns its status object.
    pub async fn wait_task(&self, upid: &str) -> Value {
        let node = upid.split(':').nth(1).unwrap_or("pve1").to_string();
        for _ in 0..400 {
            let r = self
                .call("GET", &format!("/nodes/{node}/tasks/{upid}/status"), &[])
                .await;
            let d = r.data();
            if d["status"] == "stopped" {
                return d;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("task {upid} did not finish");
    }
}
