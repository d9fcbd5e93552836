//! What a relay moves bytes through ([`ByteLink`]: a WebSocket seen as byte frames, or a
//! test double), what one message is, and why the portal closes a browser's socket. A leaf:
//! the relays (`console`, `terminal`, `ssh`), the RFB handshakes and the access watch all
//! build on it.

use crate::Result;

/// A source and sink of binary payloads: a WebSocket seen as byte frames.
pub trait ByteLink: Send {
    /// The next payload; `None` when the other side closed.
    fn recv(&mut self) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    fn send(&mut self, bytes: Vec<u8>) -> impl Future<Output = Result<()>> + Send;
    fn close(&mut self) -> impl Future<Output = ()> + Send;

    /// Closes saying why, where the link can (a WebSocket's close frame); others just close.
    fn close_because(&mut self, why: Closing) -> impl Future<Output = ()> + Send {
        let _ = why;
        self.close()
    }

    /// The next message with its kind, for protocols where text and binary frames mean
    /// different things (the terminal's `resize:` control). Links that cannot tell call
    /// everything binary.
    fn recv_message(&mut self) -> impl Future<Output = Result<Option<Payload>>> + Send {
        async move { Ok(self.recv().await?.map(Payload::Binary)) }
    }
}

/// Why the portal closed a browser's socket, when the page should tell the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// The session ended or the user may no longer use this VM ([`super::watch`]).
    Revoked,
    /// The portal is shutting down (or restarting); the page may reconnect later.
    ShuttingDown,
}

impl Closing {
    /// The WebSocket close code (4000-4999 are the application's); the pages know it.
    pub const fn code(self) -> u16 {
        match self {
            Closing::Revoked => 4403,
            // RFC 6455 "going away": a server going down.
            Closing::ShuttingDown => 1001,
        }
    }

    /// The close frame's reason text.
    pub const fn reason(self) -> &'static str {
        match self {
            Closing::Revoked => "access revoked",
            Closing::ShuttingDown => "the portal is restarting",
        }
    }
}

/// One WebSocket message, as [`ByteLink::recv_message`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Binary(Vec<u8>),
    Text(String),
}
