//! The web terminal's framing (`lab::console::terminal`): browser messages translated into
//! termproxy's `0:LEN:DATA` / `1:COLS:ROWS:` frames, and termproxy's `OK` login answer.
//!
//! Why: every byte a student types or pastes goes through `frames::from_browser`, and the
//! relay's whole safety argument is that nothing typed can become a termproxy command. So
//! beyond "no panic" the target reads the output back as termproxy does and checks that it
//! is exactly the input, in frames of at most `MAX_INPUT_FRAME` bytes, never split inside a
//! UTF-8 character; and that a resize is only ever written for a size in range.
//!
//! Input: byte 0 picks the message kind (bit 0: text, else binary) and, for the login, how
//! the node's answer is cut into WebSocket messages (bits 1-4); the rest is the payload.

#![no_main]

use lab::console::terminal::{frames, login};
use lab::console::{ByteLink, Payload};
use lab::pve::TermTicket;
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;

fuzz_target!(|data: &[u8]| {
    let Some((&head, payload)) = data.split_first() else {
        return;
    };
    if head & 1 == 1 {
        let text = String::from_utf8_lossy(payload).into_owned();
        text_message(&text);
    } else {
        binary_message(payload);
    }
    if let Ok(size) = std::str::from_utf8(payload) {
        sizes(size);
    }
    node_login(usize::from(head >> 1 & 0x0F), payload);
});

fn binary_message(bytes: &[u8]) {
    let out = frames::from_browser(Payload::Binary(bytes.to_vec()));
    check_input(bytes, out);
}

fn text_message(text: &str) {
    let out = frames::from_browser(Payload::Text(text.to_owned()));
    match text.strip_prefix("resize:") {
        Some(size) => match out {
            None => assert!(frames::parse_size(size).is_none()),
            Some(frame) => {
                let (cols, rows) = frames::parse_size(size).expect("a resize of a valid size");
                assert_eq!(frame, format!("1:{cols}:{rows}:").into_bytes());
            }
        },
        None => check_input(text.as_bytes(), out),
    }
}

/// Reads `0:LEN:DATA` frames back as termproxy does and compares with what was typed.
fn check_input(typed: &[u8], out: Option<Vec<u8>>) {
    let Some(out) = out else {
        assert!(typed.is_empty(), "keystrokes were dropped");
        return;
    };
    let mut rest = out.as_slice();
    let mut read = Vec::new();
    while !rest.is_empty() {
        let header = rest
            .strip_prefix(b"0:")
            .expect("every frame is an input frame");
        let colon = header.iter().position(|b| *b == b':').expect("a length");
        let len: usize = std::str::from_utf8(&header[..colon])
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=frames::MAX_INPUT_FRAME).contains(&len),
            "frame of {len} bytes"
        );
        let frame = &header[colon + 1..colon + 1 + len];
        if std::str::from_utf8(typed).is_ok() {
            assert!(
                std::str::from_utf8(frame).is_ok(),
                "a frame splits a character"
            );
        }
        read.extend_from_slice(frame);
        rest = &header[colon + 1 + len..];
    }
    assert_eq!(read, typed);
}

fn sizes(size: &str) {
    let parsed = frames::parse_size(size);
    if let Some((cols, rows)) = parsed {
        for n in [cols, rows] {
            assert!((1..=frames::MAX_SIZE).contains(&n));
        }
    }
    let frame = parsed.map(|(cols, rows)| format!("1:{cols}:{rows}:").into_bytes());
    assert_eq!(frames::resize(size), frame);
}

/// The node's side of a terminal: its messages come from the input, what we send is kept.
struct Node {
    incoming: VecDeque<Vec<u8>>,
    sent: Vec<u8>,
}

impl ByteLink for Node {
    async fn recv(&mut self) -> lab::Result<Option<Vec<u8>>> {
        Ok(self.incoming.pop_front())
    }
    async fn send(&mut self, bytes: Vec<u8>) -> lab::Result<()> {
        self.sent.extend_from_slice(&bytes);
        Ok(())
    }
    async fn close(&mut self) {}
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
}

/// `login` succeeds exactly when the node's answer starts with `OK`, and hands on the rest.
fn node_login(cut: usize, answer: &[u8]) {
    // 0: the whole answer in one message; else messages of `cut` bytes.
    let chunk = if cut == 0 { answer.len().max(1) } else { cut };
    let node = Node {
        incoming: answer.chunks(chunk).map(<[u8]>::to_vec).collect(),
        sent: Vec::new(),
    };
    let ticket = TermTicket {
        port: 5900,
        ticket: "PVEVNC:6AFD8742::ticket".into(),
        user: "portal@pve!lab".into(),
    };
    let result = RUNTIME.with(|rt| rt.block_on(login(node, &ticket)));
    match result {
        Ok((node, leftover)) => {
            assert!(answer.starts_with(b"OK"));
            assert_eq!(node.sent, b"portal@pve!lab:PVEVNC:6AFD8742::ticket\n");
            // `read_exact` keeps what came with the `OK` in the same message.
            let taken = 2usize.div_ceil(chunk) * chunk;
            assert_eq!(leftover, answer[2..taken.min(answer.len())]);
        }
        Err(_) => assert!(!answer.starts_with(b"OK")),
    }
}
