//! Consoles: `vncproxy` (a one-time VNC ticket for a port, valid 40 s) and `vncwebsocket`,
//! opened as a WebSocket client with the API's own authentication and the same TLS rules
//! (the pinned fingerprint, or the system's roots).
//!
//! PVE quirks: `port` comes back as a number or a string; qemu-server >= 9.1.7 adds a
//! separate 8-character `password` (and prefixes the ticket with it), older versions use the
//! ticket itself as the VNC password; `vncwebsocket` wants the `binary` sub-protocol and the
//! ticket URL-encoded in the query.

use super::client::{Auth, Client, seg};
use super::error::Error;
use super::types::GuestKind;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, COOKIE};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::sync::atomic::Ordering;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A console WebSocket to a node.
pub type ConsoleSocket = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// What `vncproxy` hands out. Lives 40 s; used once, right away.
pub struct VncTicket {
    pub port: u16,
    pub ticket: SecretString,
    /// The VNC-auth password: the separate one (PVE >= 9.1.7) or the ticket.
    pub password: SecretString,
}

impl std::fmt::Debug for VncTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VncTicket")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Frames bigger than this from a node are refused (a full 4K 32-bit screen is 33 MB; PVE
/// sends at most 128 KiB per frame).
const MAX_FRAME: usize = 16 << 20;

impl Client {
    /// `POST …/vncproxy` with `websocket=1`.
    pub async fn vnc_proxy(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
    ) -> Result<VncTicket, Error> {
        let path = format!("nodes/{}/{}/{vmid}/vncproxy", seg(node), kind.as_str());
        let data = self
            .request(Method::POST, &path, Some(&[("websocket", "1")]))
            .await?;
        let port = match data.get("port") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| Error::Decode("vncproxy answered without a port".into()))?;
        let ticket = data
            .get("ticket")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Decode("vncproxy answered without a ticket".into()))?;
        let password = data
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or(ticket);
        Ok(VncTicket {
            port,
            ticket: SecretString::from(ticket),
            password: SecretString::from(password),
        })
    }

    /// Opens `…/vncwebsocket` for a ticket from [`Client::vnc_proxy`].
    pub async fn vnc_websocket(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        ticket: &VncTicket,
    ) -> Result<ConsoleSocket, Error> {
        self.open_vnc_websocket(node, kind, vmid, ticket.port, &ticket.ticket)
            .await
    }

    /// Opens `…/vncwebsocket` for a `port` and `ticket` from `vncproxy` or `termproxy` (the
    /// node does not care which: it relays bytes to whatever listens on that port).
    pub(super) async fn open_vnc_websocket(
        &self,
        node: &str,
        kind: GuestKind,
        vmid: u32,
        vnc_port: u16,
        ticket: &SecretString,
    ) -> Result<ConsoleSocket, Error> {
        let base = &self.inner.bases[self.inner.preferred.load(Ordering::Relaxed)];
        let url = url::Url::parse(base).map_err(|e| Error::Invalid(e.to_string()))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("port", &vnc_port.to_string())
            .append_pair("vncticket", ticket.expose_secret())
            .finish();
        let ws_url = format!(
            "wss://{host}:{port}{}/nodes/{}/{}/{vmid}/vncwebsocket?{query}",
            url.path(),
            seg(node),
            kind.as_str()
        );
        let mut request = ws_url
            .into_client_request()
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let headers = request.headers_mut();
        headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("binary"));
        let header = |text: String| {
            let mut value = HeaderValue::from_str(&text)
                .map_err(|_| Error::Invalid("credentials are not valid header text".into()))?;
            value.set_sensitive(true);
            Ok::<_, Error>(value)
        };
        match self.auth().await? {
            Auth::Token(value) => {
                let text = value.to_str().unwrap_or_default().to_owned();
                headers.insert(AUTHORIZATION.as_str(), header(text)?);
            }
            Auth::Ticket { ticket, .. } => {
                let cookie = format!("PVEAuthCookie={}", ticket.expose_secret());
                headers.insert(COOKIE.as_str(), header(cookie)?);
            }
            Auth::None => {}
        }
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let connect = async {
            let tcp = TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| Error::Connect(e.to_string()))?;
            tcp.set_nodelay(true).ok();
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| Error::Invalid(e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(self.inner.ws_tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| Error::Tls(e.to_string()))?;
            let config = WebSocketConfig::default()
                .max_frame_size(Some(MAX_FRAME))
                .max_message_size(Some(MAX_FRAME));
            let (socket, _) =
                tokio_tungstenite::client_async_with_config(request, tls, Some(config))
                    .await
                    .map_err(|e| match e {
                        tokio_tungstenite::tungstenite::Error::Http(resp) => Error::Api {
                            status: resp.status().as_u16(),
                            message: format!("vncwebsocket refused ({})", resp.status()),
                        },
                        other => Error::Connect(other.to_string()),
                    })?;
            Ok(socket)
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), connect)
            .await
            .map_err(|_| Error::Timeout)?
    }
}
