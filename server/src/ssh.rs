//! `GET /ws/ssh/{cluster}/{vmid}`: SSH through the portal, in the terminal page (xterm.js).
//! The same refusals as the terminal socket, in the same order and before anything else: the
//! Origin (same site only), the session, that this user may use this VM and that it runs;
//! then that its class has SSH enabled and that it has a known IP. The browser names no host
//! and no port: `lab::console::ssh` connects to the VM's inventory IP, port 22, once the
//! user typed a login and a password in the terminal (never logged here nor there).
//!
//! The browser's protocol is the terminal's: keystrokes as binary frames, `resize:COLS:ROWS`
//! as text frames; output comes back as binary frames.

use crate::console::{
    AuditedSession, Browser, ConsoleState, TERMINAL_MAX_MESSAGE, ending, refusal,
    signed_in_same_site,
};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use lab::console::{AccessWatch, ssh};

pub async fn ssh_socket(
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
    let opened = ssh::open_ssh(&state.services, user, cluster_id, vmid).await;
    let at = (cluster_id, vmid);
    let audit = AuditedSession::open(&state, user, at, "SSH", &extensions, &headers, &opened).await;
    let target = match opened {
        Ok(target) => target,
        Err(e) => return refusal(e),
    };
    tracing::info!(user = %user.username, vmid, addr = %target.addr(), "SSH terminal opened");
    let idle = state.services.consoles.idle();
    let tasks = state.services.tasks.clone();
    upgrade
        .max_message_size(TERMINAL_MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            // Owned by start-up: a shutdown waits for the relay's close frame.
            let _tracked = tasks.token();
            let result = ssh::relay(Browser(socket), target, idle, watch).await;
            audit.closed(&ending(&result)).await;
            match result {
                Ok(stats) => tracing::info!(
                    vmid,
                    to_browser = stats.to_browser,
                    to_vm = stats.to_node,
                    idle = stats.idle_timeout,
                    revoked = stats.revoked,
                    "SSH terminal closed"
                ),
                Err(e) => tracing::info!(vmid, error = %e, "SSH terminal ended"),
            }
        })
}
