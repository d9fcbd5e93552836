//! `GET /ws/terminal/{cluster}/{vmid}`: the browser's terminal WebSocket (xterm.js). The
//! same refusals as the console socket, in the same order and before anything reaches
//! Proxmox: the Origin (same site only), the session, that this user may use this VM and
//! that it runs. Then `lab::console::terminal` opens termproxy and relays.
//!
//! What the browser sends: keystrokes as binary frames, `resize:COLS:ROWS` as text frames;
//! it receives the terminal's output as binary frames (see `lab::console::terminal::frames`).

use crate::console::{
    AuditedSession, Browser, ConsoleState, TERMINAL_MAX_MESSAGE, ending, refusal,
    signed_in_same_site,
};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use lab::console::{AccessWatch, terminal};

pub async fn terminal_socket(
    State(state): State<ConsoleState>,
    Path((cluster_id, vmid)): Path<(i32, i32)>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    upgrade: WebSocketUpgrade,
) -> Response {
    let session = match signed_in_same_site(&state, &headers, "terminal").await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    // Listening before the access check, so a revocation right after it is not missed.
    let watch = AccessWatch::new(&state.services, &session, cluster_id, vmid);
    let user = &session.user;
    let opened = terminal::open_terminal(&state.services, user, cluster_id, vmid).await;
    let at = (cluster_id, vmid);
    let audit =
        AuditedSession::open(&state, user, at, "terminal", &extensions, &headers, &opened).await;
    let upstream = match opened {
        Ok(upstream) => upstream,
        Err(e) => return refusal(e),
    };
    let timing = terminal::Timing {
        idle: state.services.consoles.idle(),
        keepalive: terminal::KEEPALIVE,
    };
    let tasks = state.services.tasks.clone();
    upgrade
        .max_message_size(TERMINAL_MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            // Owned by start-up: a shutdown waits for the relay's close frame.
            let _tracked = tasks.token();
            let result = terminal::relay(Browser(socket), upstream, timing, watch).await;
            audit.closed(&ending(&result)).await;
            match result {
                Ok(stats) => tracing::info!(
                    vmid,
                    to_browser = stats.to_browser,
                    to_node = stats.to_node,
                    idle = stats.idle_timeout,
                    revoked = stats.revoked,
                    "terminal closed"
                ),
                Err(e) => tracing::info!(vmid, error = %e, "terminal ended"),
            }
        })
}
