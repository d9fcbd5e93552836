//! The two RFB 3.8 handshakes the console relay speaks itself (`lab::console::rfb`): as a
//! client to the node (VNC authentication with the ticket) and as a server to the browser.
//!
//! Why: the node's side is a network peer and the browser's is a user; both feed byte
//! streams, cut into WebSocket messages anywhere, into `Buffered::read_exact` and the
//! handshake logic (counts, lengths, security types). The target checks against a small
//! model of RFC 6143 §7.1-7.2 that each handshake succeeds exactly when it should, sends
//! exactly the expected bytes, and hands on every byte it read past the handshake.
//!
//! Input: byte 0 picks the side (bit 0: browser, else node) and how the peer's stream is cut
//! into messages (bits 1-4: 0 = one message, else that many bytes each); the rest is the
//! peer's stream.

#![no_main]

use lab::console::ByteLink;
use lab::console::rfb::{Buffered, authenticate_upstream, offer_no_auth, vnc_auth_response};
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

const VERSION: &[u8] = b"RFB 003.008\n";
const PASSWORD: &str = "PVEVNC:6AFD8738::ticket";

fuzz_target!(|data: &[u8]| {
    let Some((&head, stream)) = data.split_first() else {
        return;
    };
    let cut = usize::from(head >> 1 & 0x0F);
    if head & 1 == 1 {
        browser(stream, cut);
    } else {
        node(stream, cut);
    }
    des_key(stream);
});

/// A peer whose messages come from the input; what we send is kept.
struct Peer {
    incoming: VecDeque<Vec<u8>>,
    sent: Vec<u8>,
}

impl Peer {
    fn new(stream: &[u8], cut: usize) -> Self {
        let chunk = if cut == 0 { stream.len().max(1) } else { cut };
        Peer {
            incoming: stream.chunks(chunk).map(<[u8]>::to_vec).collect(),
            sent: Vec::new(),
        }
    }
}

impl ByteLink for Peer {
    async fn recv(&mut self) -> lab::Result<Option<Vec<u8>>> {
        Ok(self.incoming.pop_front())
    }
    async fn send(&mut self, bytes: Vec<u8>) -> lab::Result<()> {
        self.sent.extend_from_slice(&bytes);
        Ok(())
    }
    async fn close(&mut self) {}
}

/// The peer never makes us wait, so one poll finishes the handshake.
fn run<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the handshake waited on a peer that never blocks"),
    }
}

/// What a correct client does with the node's stream: `Some((consumed, sent))` when the
/// handshake should succeed, `None` when it should fail.
fn upstream_model(s: &[u8]) -> Option<(usize, Vec<u8>)> {
    let mut sent = VERSION.to_vec();
    if !s.get(..12)?.starts_with(b"RFB 003.") {
        return None;
    }
    let count = usize::from(*s.get(12)?);
    if count == 0 {
        return None; // the server's reason for refusing follows
    }
    let types = s.get(13..13 + count)?;
    let mut at = 13 + count;
    if types.contains(&2) {
        let challenge: [u8; 16] = s.get(at..at + 16)?.try_into().unwrap();
        sent.push(2);
        sent.extend_from_slice(&vnc_auth_response(PASSWORD, &challenge));
        at += 16;
    } else if types.contains(&1) {
        sent.push(1);
    } else {
        return None;
    }
    (s.get(at..at + 4)? == [0, 0, 0, 0]).then_some((at + 4, sent))
}

fn node(stream: &[u8], cut: usize) {
    let mut link = Buffered::new(Peer::new(stream, cut));
    let result = run(authenticate_upstream(&mut link, PASSWORD));
    let (peer, leftover) = link.into_parts();
    match upstream_model(stream) {
        Some((consumed, sent)) => {
            assert!(result.is_ok(), "refused a valid handshake: {result:?}");
            assert_eq!(peer.sent, sent);
            let mut rest = leftover;
            rest.extend(peer.incoming.into_iter().flatten());
            assert_eq!(
                rest,
                stream[consumed..],
                "bytes past the handshake were lost"
            );
        }
        None => assert!(result.is_err(), "accepted an invalid handshake"),
    }
}

fn browser(stream: &[u8], cut: usize) {
    let mut link = Buffered::new(Peer::new(stream, cut));
    let result = run(offer_no_auth(&mut link));
    let (peer, leftover) = link.into_parts();
    let valid = stream.len() >= 13 && stream.starts_with(b"RFB 003.") && stream[12] == 1;
    if valid {
        assert!(result.is_ok(), "refused a valid browser: {result:?}");
        let mut expected = VERSION.to_vec();
        expected.extend_from_slice(&[1, 1, 0, 0, 0, 0]);
        assert_eq!(peer.sent, expected);
        let mut rest = leftover;
        rest.extend(peer.incoming.into_iter().flatten());
        assert_eq!(rest, stream[13..], "the browser's ClientInit was lost");
    } else {
        assert!(result.is_err(), "accepted an invalid browser");
    }
}

/// Only the password's first 8 bytes make the DES key.
fn des_key(stream: &[u8]) {
    let password = String::from_utf8_lossy(stream);
    let challenge: [u8; 16] = std::array::from_fn(|i| stream.get(i).copied().unwrap_or(0));
    let answer = vnc_auth_response(&password, &challenge);
    assert_eq!(answer, vnc_auth_response(&password, &challenge));
    if password.len() >= 8 {
        assert_eq!(
            answer,
            vnc_auth_response(&format!("{password}x"), &challenge)
        );
    }
}
