//! `GET /ws/console/{cluster}/{vmid}`: the browser's console WebSocket. Before anything
//! reaches Proxmox it checks the Origin (same site only), the session and that this user may
//! use this VM and that it runs; then `lab::console` opens the node's console and relays,
//! until either side leaves or the access goes (close code 4403, see `lab::console::watch`).
//! Refusals are plain HTTP statuses before the upgrade (400, 401, 403, 404, 409, 503).

use crate::guard::{OriginPolicy, websocket_origin_allowed};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use lab::Services;
use lab::auth::Session;
use lab::console::{AccessWatch, ByteLink, Closing, Payload};
use std::sync::Arc;

/// Biggest message a terminal page (serial terminal or SSH) may send: it sends pastes in
/// 16 KiB pieces.
pub const TERMINAL_MAX_MESSAGE: usize = 64 << 10;

#[derive(Clone)]
pub struct ConsoleState {
    pub services: Services,
    pub origin: Arc<OriginPolicy>,
    /// Trust `X-Forwarded-For` for the client's address (the audit log's).
    pub behind_proxy: bool,
}

/// A console, terminal or SSH session in the audit log: a line when it opens (or is
/// refused), and one when it closes, with how long it lasted and why it ended.
pub(crate) struct AuditedSession {
    services: Services,
    entry: lab::audit::Entry,
    opened: std::time::Instant,
    /// In `/metrics`' open relays while this lives.
    _open: Option<lab::metrics::OpenConsole>,
}

impl AuditedSession {
    /// Records the opening (`result`: the access checks' verdict).
    pub(crate) async fn open<T>(
        state: &ConsoleState,
        user: &lab::db::entity::user::Model,
        (cluster_id, vmid): (i32, i32),
        what: &str,
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
        result: &lab::Result<T>,
    ) -> AuditedSession {
        let addr = app::session::client_ip(headers, extensions, state.behind_proxy);
        let entry = lab::audit::Entry::by(user, lab::model::AuditAction::ConsoleOpened)
            .vm(cluster_id, vmid)
            .from(addr.map(|a| a.to_string()))
            .detail(what);
        let services = state.services.clone();
        lab::audit::record(
            &services.db,
            lab::clock::now(),
            entry.clone().outcome(result),
        )
        .await;
        AuditedSession {
            services,
            entry,
            opened: std::time::Instant::now(),
            _open: lab::metrics::console_opened(what, result.is_ok()),
        }
    }

    /// Records the close: how long, and why (`how`: the relay's end).
    pub(crate) async fn closed(self, how: &str) {
        let secs = self.opened.elapsed().as_secs();
        let mut entry = self.entry;
        entry.action = lab::model::AuditAction::ConsoleClosed;
        let what = entry.detail.take().unwrap_or_default();
        let entry = entry.detail(format!(
            "{what} after {}:{:02}:{:02}, {how}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        ));
        lab::audit::record(&self.services.db, lab::clock::now(), entry).await;
    }
}

/// Why a relay ended, in words for the audit log.
pub(crate) fn ending(stats: &lab::Result<lab::console::RelayStats>) -> String {
    match stats {
        Ok(s) if s.revoked => "access revoked".into(),
        Ok(s) if s.idle_timeout => "idle timeout".into(),
        Ok(_) => "closed".into(),
        Err(e) => format!("ended: {e}"),
    }
}

pub async fn console_socket(
    State(state): State<ConsoleState>,
    Path((cluster_id, vmid)): Path<(i32, i32)>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    upgrade: WebSocketUpgrade,
) -> Response {
    let session = match signed_in_same_site(&state, &headers, "console").await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    // Listening before the access check, so a revocation right after it is not missed.
    let watch = AccessWatch::new(&state.services, &session, cluster_id, vmid);
    let user = &session.user;
    let opened = lab::console::open(&state.services, user, cluster_id, vmid).await;
    let at = (cluster_id, vmid);
    let audit =
        AuditedSession::open(&state, user, at, "console", &extensions, &headers, &opened).await;
    let upstream = match opened {
        Ok(upstream) => upstream,
        Err(e) => return refusal(e),
    };
    let idle = state.services.consoles.idle();
    let tasks = state.services.tasks.clone();
    upgrade
        .protocols(["binary"])
        .max_message_size(1 << 20)
        .on_upgrade(move |socket| async move {
            // Owned by start-up: a shutdown waits for the relay's close frame.
            let _tracked = tasks.token();
            let result = lab::console::relay(Browser(socket), upstream, idle, watch).await;
            audit.closed(&ending(&result)).await;
            match result {
                Ok(stats) => tracing::info!(
                    vmid,
                    to_browser = stats.to_browser,
                    to_node = stats.to_node,
                    idle = stats.idle_timeout,
                    revoked = stats.revoked,
                    "console closed"
                ),
                Err(e) => tracing::info!(vmid, error = %e, "console ended"),
            }
        })
}

/// The first two checks of every console, terminal and SSH WebSocket, before anything else:
/// the upgrade comes from this site (no cross-site WebSocket hijacking), and from a session
/// (returned: the relay watches it, see `lab::console::watch`).
pub(crate) async fn signed_in_same_site(
    state: &ConsoleState,
    headers: &HeaderMap,
    what: &str,
) -> Result<Session, Response> {
    if !websocket_origin_allowed(headers, &state.origin) {
        tracing::warn!(origin = ?headers.get("origin"), what, "refused a cross-site WebSocket");
        return Err((StatusCode::FORBIDDEN, format!("Cross-site {what} refused.")).into_response());
    }
    match crate::cookie_session::signed_in_session(&state.services, headers).await {
        Ok(Some(session)) => Ok(session),
        Ok(None) => Err((StatusCode::UNAUTHORIZED, "Please sign in.").into_response()),
        Err(e) => Err(refusal(e)),
    }
}

pub(crate) fn refusal(e: lab::Error) -> Response {
    let status = match &e {
        lab::Error::NotFound(_) => StatusCode::NOT_FOUND,
        lab::Error::Forbidden => StatusCode::FORBIDDEN,
        lab::Error::Invalid(_) => StatusCode::BAD_REQUEST,
        lab::Error::Conflict(_) => StatusCode::CONFLICT,
        lab::Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        lab::Error::Proxmox(_) => StatusCode::BAD_GATEWAY,
        _ => {
            tracing::error!(error = %e, "console: internal error");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response();
        }
    };
    (status, e.to_string()).into_response()
}

/// The browser's WebSocket as a [`ByteLink`] (the terminal socket uses it too).
pub(crate) struct Browser(pub(crate) WebSocket);

impl ByteLink for Browser {
    async fn recv(&mut self) -> lab::Result<Option<Vec<u8>>> {
        loop {
            return match self.0.next().await {
                None | Some(Ok(Message::Close(_))) | Some(Err(_)) => Ok(None),
                Some(Ok(Message::Binary(b))) => Ok(Some(b.to_vec())),
                Some(Ok(Message::Text(t))) => Ok(Some(t.as_bytes().to_vec())),
                Some(Ok(_)) => continue,
            };
        }
    }

    async fn send(&mut self, bytes: Vec<u8>) -> lab::Result<()> {
        self.0
            .send(Message::Binary(bytes.into()))
            .await
            .map_err(|e| lab::Error::Unavailable(format!("browser connection: {e}")))
    }

    async fn close(&mut self) {
        let _ = self.0.send(Message::Close(None)).await;
    }

    async fn close_because(&mut self, why: Closing) {
        let frame = CloseFrame {
            code: why.code(),
            reason: why.reason().into(),
        };
        let _ = self.0.send(Message::Close(Some(frame))).await;
    }

    async fn recv_message(&mut self) -> lab::Result<Option<Payload>> {
        loop {
            return match self.0.next().await {
                None | Some(Ok(Message::Close(_))) | Some(Err(_)) => Ok(None),
                Some(Ok(Message::Binary(b))) => Ok(Some(Payload::Binary(b.to_vec()))),
                Some(Ok(Message::Text(t))) => Ok(Some(Payload::Text(t.as_str().to_owned()))),
                Some(Ok(_)) => continue,
            };
        }
    }
}
