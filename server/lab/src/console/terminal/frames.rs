//! The translation between the browser's terminal protocol and termproxy's.
//!
//! Browser → portal (kept trivial so that xterm.js needs no protocol code):
//! * a binary frame is keystrokes (UTF-8, as xterm.js's `onData` gives them);
//! * a text frame `resize:COLS:ROWS` is a resize; any other text frame is keystrokes too.
//!   The page sends keystrokes as binary only, so typing or pasting "resize:1:1" stays text.
//!
//! Portal → termproxy (pve-xtermjs `termproxy/src/main.rs`, reference §3.3): `0:LEN:DATA`
//! input (LEN = bytes of DATA), `1:COLS:ROWS:` resize, `2` keep-alive. Because the relay
//! writes every header itself, nothing the browser sends can be read by termproxy as a
//! command: "1:5:5:" typed by a student arrives as the text "1:5:5:".

use crate::console::Payload;

/// Input is cut into frames of at most this many bytes: termproxy keeps a whole frame in a
/// fixed buffer before it writes it to the terminal, so one huge paste must not become one
/// huge frame.
pub const MAX_INPUT_FRAME: usize = 4096;
/// Sizes beyond this are refused (no screen has 1000 columns of text).
pub const MAX_SIZE: u16 = 1000;
/// termproxy's keep-alive message.
pub const KEEPALIVE: &[u8] = b"2";

/// What one browser message becomes for termproxy; `None` when there is nothing to send
/// (an empty message, or a resize that is not one).
pub fn from_browser(message: Payload) -> Option<Vec<u8>> {
    match message {
        Payload::Binary(bytes) => input(&bytes),
        Payload::Text(text) => match text.strip_prefix("resize:") {
            Some(size) => resize(size),
            None => input(text.as_bytes()),
        },
    }
}

/// `0:LEN:DATA` frames for typed bytes, cut at UTF-8 character boundaries where the text
/// allows (a character is never split between frames unless the bytes are not UTF-8).
pub fn input(mut data: &[u8]) -> Option<Vec<u8>> {
    if data.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() + 16);
    while !data.is_empty() {
        let mut cut = data.len().min(MAX_INPUT_FRAME);
        // Back off over continuation bytes (0b10xx_xxxx) so the cut falls before a
        // character's first byte; give up after 3 (then the bytes are not UTF-8 anyway).
        let mut back = 0;
        while cut < data.len() && back < 3 && data[cut] & 0xC0 == 0x80 {
            cut -= 1;
            back += 1;
        }
        if cut == 0 || (cut < data.len() && data[cut] & 0xC0 == 0x80) {
            cut = data.len().min(MAX_INPUT_FRAME);
        }
        out.extend_from_slice(format!("0:{cut}:").as_bytes());
        out.extend_from_slice(&data[..cut]);
        data = &data[cut..];
    }
    Some(out)
}

/// `1:COLS:ROWS:` for `COLS:ROWS` (both 1..=[`MAX_SIZE`]).
pub fn resize(size: &str) -> Option<Vec<u8>> {
    let (cols, rows) = parse_size(size)?;
    Some(format!("1:{cols}:{rows}:").into_bytes())
}

/// `COLS:ROWS` (both 1..=[`MAX_SIZE`], plain digits) as numbers.
pub fn parse_size(size: &str) -> Option<(u16, u16)> {
    let (cols, rows) = size.split_once(':')?;
    let parse = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<u16>().ok())
            .flatten()
            .filter(|n| (1..=MAX_SIZE).contains(n))
    };
    Some((parse(cols)?, parse(rows)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Payload {
        Payload::Text(s.into())
    }

    #[test]
    fn keystrokes_are_wrapped_with_their_byte_length() {
        assert_eq!(
            from_browser(Payload::Binary(b"ls\r".to_vec())).unwrap(),
            b"0:3:ls\r"
        );
        // "é" is two bytes: the length counts bytes, not characters.
        assert_eq!(from_browser(text("é")).unwrap(), "0:2:é".as_bytes());
        assert_eq!(from_browser(Payload::Binary(Vec::new())), None);
    }

    #[test]
    fn typed_framing_stays_text() {
        assert_eq!(
            from_browser(Payload::Binary(b"1:5:5:".to_vec())).unwrap(),
            b"0:6:1:5:5:"
        );
        // Binary "resize:…" is keystrokes; only a text frame resizes.
        assert_eq!(
            from_browser(Payload::Binary(b"resize:9:9".to_vec())).unwrap(),
            b"0:10:resize:9:9"
        );
    }

    #[test]
    fn resizes_are_checked() {
        assert_eq!(from_browser(text("resize:120:40")).unwrap(), b"1:120:40:");
        for bad in [
            "resize:0:40",
            "resize:120",
            "resize:120:40:1",
            "resize:-1:4",
            "resize:+5:4",
            "resize:1001:4",
            "resize:99999999999:4",
            "resize:",
        ] {
            assert_eq!(from_browser(text(bad)), None, "{bad}");
        }
        assert_eq!(from_browser(text("hello")).unwrap(), b"0:5:hello");
    }

    /// Reads `0:LEN:DATA` frames back, as termproxy does.
    fn unwrap_frames(mut b: &[u8]) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while !b.is_empty() {
            assert_eq!(&b[..2], b"0:");
            let colon = b[2..].iter().position(|c| *c == b':').unwrap() + 2;
            let len: usize = std::str::from_utf8(&b[2..colon]).unwrap().parse().unwrap();
            frames.push(b[colon + 1..colon + 1 + len].to_vec());
            b = &b[colon + 1 + len..];
        }
        frames
    }

    #[test]
    fn a_big_paste_is_cut_into_small_frames_between_characters() {
        // 3-byte characters: 4096 is not a multiple of 3, so a blind cut would split one.
        let paste = "€".repeat(5000);
        let frames = unwrap_frames(&input(paste.as_bytes()).unwrap());
        assert!(frames.len() > 1);
        assert!(frames.iter().all(|f| f.len() <= MAX_INPUT_FRAME));
        for f in &frames {
            assert!(std::str::from_utf8(f).is_ok(), "a frame split a character");
        }
        assert_eq!(frames.concat(), paste.as_bytes());
        // Bytes that are not UTF-8 still pass whole, in order.
        let junk = vec![0x80u8; 9000];
        let frames = unwrap_frames(&input(&junk).unwrap());
        assert_eq!(frames.concat(), junk);
        assert!(frames.iter().all(|f| f.len() <= MAX_INPUT_FRAME));
    }
}
