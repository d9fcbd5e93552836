//! Console backends behind `vncwebsocket`: a small RFB 3.8 server (what QEMU's VNC or
//! vncterm speaks) and a termproxy-compatible terminal with a tiny simulated shell.
//!
//! pveproxy relays raw bytes between the WebSocket and the worker's TCP port; server→client
//! frames are binary and at most 128 KiB, cut anywhere in the stream. [`WsStream`] gives
//! both backends that byte-stream view of a WebSocket.

mod rfb;
mod term;

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};

use crate::model::State;

/// What a `vncwebsocket` connection was opened for.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub vmid: Option<u32>,
    pub node: String,
    pub port: u16,
    /// RFB VNC-auth password (the ticket, or the separate 9.1.7 password).
    pub password: String,
    pub terminal: bool,
    pub authid: String,
    /// The `vncticket` as given, which the terminal's first line must repeat.
    pub ticket: String,
}

/// Serves an upgraded console connection until either side closes it.
pub(crate) async fn serve(st: Arc<State>, socket: WebSocket, session: Session) {
    let mut ws = WsStream {
        ws: socket,
        buf: Vec::new(),
    };
    let result = if session.terminal {
        term::run(&st, &mut ws, &session).await
    } else {
        rfb::run(&st, &mut ws, &session).await
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "console session ended");
    }
    let _ = ws.ws.send(Message::Close(None)).await;
}

/// Text typed into a console so far (for tests that check input arrives): key events of the
/// RFB server and input frames of the terminal, per VMID (`None` = node shell).
pub(crate) fn record_input(st: &State, vmid: Option<u32>, text: &str) {
    let mut inner = st.lock();
    inner
        .typed
        .entry(vmid.unwrap_or(0))
        .or_default()
        .push_str(text);
}

/// A WebSocket read as a byte stream and written in binary frames of at most 128 KiB.
pub(crate) struct WsStream {
    ws: WebSocket,
    buf: Vec<u8>,
}

/// The connection closed or broke.
#[derive(Debug, thiserror::Error)]
#[error("console connection closed: {0}")]
pub(crate) struct Closed(pub &'static str);

impl WsStream {
    /// Reads more bytes into the buffer; false when the peer closed.
    async fn fill(&mut self) -> Result<(), Closed> {
        loop {
            match self.ws.recv().await {
                Some(Ok(Message::Binary(b))) => {
                    self.buf.extend_from_slice(&b);
                    return Ok(());
                }
                Some(Ok(Message::Text(t))) => {
                    self.buf.extend_from_slice(t.as_bytes());
                    return Ok(());
                }
                Some(Ok(Message::Ping(p))) => {
                    let _ = self.ws.send(Message::Pong(p)).await;
                }
                Some(Ok(Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => return Err(Closed("peer closed")),
                Some(Err(_)) => return Err(Closed("protocol error")),
            }
        }
    }

    pub(crate) async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, Closed> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Whatever has arrived (waits for at least one message if nothing is buffered).
    pub(crate) async fn read_some(&mut self) -> Result<Vec<u8>, Closed> {
        if self.buf.is_empty() {
            self.fill().await?;
        }
        Ok(std::mem::take(&mut self.buf))
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), Closed> {
        for chunk in bytes.chunks(128 << 10) {
            self.ws
                .send(Message::Binary(chunk.to_vec().into()))
                .await
                .map_err(|_| Closed("send failed"))?;
        }
        Ok(())
    }
}
