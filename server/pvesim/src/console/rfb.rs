//! A minimal RFB 3.8 server, as noVNC sees QEMU's VNC through PVE (proxmox/pve-manager
//! noVNC patch; novnc/noVNC `core/rfb.js`):
//!
//! 1. `RFB 003.008\n` both ways; 2. security types `[2]` (VNC authentication, no TLS);
//! 3. 16-byte challenge, DES-ECB response keyed with the first 8 bytes of the password, each
//!    key byte **bit-reversed** (the VNC quirk noVNC's `des.js` implements);
//! 4. SecurityResult `0`, or `1` + reason; 5. ClientInit; 6. ServerInit (640×400, 32 bpp
//!    true colour, name = the guest name);
//! 7. then SetPixelFormat / SetEncodings / FramebufferUpdateRequest / KeyEvent /
//!    PointerEvent / ClientCutText; updates are raw rectangles in the client's pixel format.
//!
//! The screen shows the guest's name, VMID, node and power state, and the text typed so far
//! (key events are also recorded for tests). Incremental update requests are answered only
//! when something changed, as a static VNC server does.

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};

use super::{Closed, Session, WsStream, record_input};
use crate::model::{Power, State, random_bytes};

const WIDTH: u16 = 640;
const HEIGHT: u16 = 400;

/// The expected answer to a VNC-auth challenge.
pub(crate) fn vnc_auth_response(password: &str, challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(password.bytes()) {
        *k = b.reverse_bits();
    }
    let cipher = des::Des::new(GenericArray::from_slice(&key));
    let mut out = [0u8; 16];
    for (i, chunk) in challenge.chunks(8).enumerate() {
        let mut block = GenericArray::clone_from_slice(chunk);
        cipher.encrypt_block(&mut block);
        out[i * 8..i * 8 + 8].copy_from_slice(&block);
    }
    out
}

#[derive(Clone, Copy)]
struct PixelFormat {
    big_endian: bool,
    shifts: [u8; 3],
}

const SERVER_FORMAT: PixelFormat = PixelFormat {
    big_endian: false,
    shifts: [16, 8, 0],
};

fn pixel_format_bytes() -> [u8; 16] {
    [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]
}

pub(crate) async fn run(st: &State, ws: &mut WsStream, s: &Session) -> Result<(), Closed> {
    ws.write(b"RFB 003.008\n").await?;
    let version = ws.read_exact(12).await?;
    if !version.starts_with(b"RFB 003.") {
        return Err(Closed("bad version"));
    }
    ws.write(&[1, 2]).await?;
    if ws.read_exact(1).await?[0] != 2 {
        return Err(Closed("unsupported security type"));
    }
    let challenge: [u8; 16] = random_bytes();
    ws.write(&challenge).await?;
    let answer = ws.read_exact(16).await?;
    if answer != vnc_auth_response(&s.password, &challenge) {
        let reason = b"Authentication failed";
        let mut msg = vec![0, 0, 0, 1];
        msg.extend_from_slice(&(reason.len() as u32).to_be_bytes());
        msg.extend_from_slice(reason);
        ws.write(&msg).await?;
        return Err(Closed("authentication failed"));
    }
    ws.write(&[0, 0, 0, 0]).await?;
    ws.read_exact(1).await?; // ClientInit (shared flag)
    let name = screen_lines(st, s).first().cloned().unwrap_or_default();
    let mut init = Vec::new();
    init.extend_from_slice(&WIDTH.to_be_bytes());
    init.extend_from_slice(&HEIGHT.to_be_bytes());
    init.extend_from_slice(&pixel_format_bytes());
    init.extend_from_slice(&(name.len() as u32).to_be_bytes());
    init.extend_from_slice(name.as_bytes());
    ws.write(&init).await?;

    let mut format = SERVER_FORMAT;
    let mut pending = false;
    let mut dirty = true;
    loop {
        let kind = ws.read_exact(1).await?[0];
        match kind {
            0 => {
                let b = ws.read_exact(19).await?;
                // pad(3), bpp, depth, big-endian, true-colour, r/g/b max (u16 each), shifts.
                format = PixelFormat {
                    big_endian: b[5] != 0,
                    shifts: [b[13], b[14], b[15]],
                };
                dirty = true;
            }
            2 => {
                let b = ws.read_exact(3).await?;
                let n = u16::from_be_bytes([b[1], b[2]]) as usize;
                ws.read_exact(n * 4).await?;
            }
            3 => {
                let b = ws.read_exact(9).await?;
                let incremental = b[0] != 0;
                if !incremental {
                    dirty = true;
                }
                pending = true;
            }
            4 => {
                let b = ws.read_exact(7).await?;
                let down = b[0] != 0;
                let key = u32::from_be_bytes([b[3], b[4], b[5], b[6]]);
                if down && let Some(text) = keysym_text(key) {
                    record_input(st, s.vmid, &text);
                    dirty = true;
                }
            }
            5 => {
                ws.read_exact(5).await?;
            }
            6 => {
                let b = ws.read_exact(7).await?;
                let len = i32::from_be_bytes([b[3], b[4], b[5], b[6]]);
                ws.read_exact(len.unsigned_abs() as usize).await?;
            }
            _ => return Err(Closed("unknown client message")),
        }
        if pending && dirty {
            ws.write(&frame(st, s, format)).await?;
            pending = false;
            dirty = false;
        }
    }
}

fn keysym_text(key: u32) -> Option<String> {
    match key {
        0x20..=0x7e => char::from_u32(key).map(String::from),
        0xff0d => Some("\n".into()),
        _ => None,
    }
}

fn screen_lines(st: &State, s: &Session) -> Vec<String> {
    let inner = st.lock();
    let Some(vmid) = s.vmid else {
        return vec![format!("{} - node console", s.node)];
    };
    let name = inner
        .store
        .get(vmid)
        .and_then(|g| {
            g.conf
                .get("name")
                .or(g.conf.get("hostname"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("VM {vmid}"));
    let state = match inner.runtime.get(&vmid).map(|r| r.power) {
        Some(Power::Running) => "running",
        Some(Power::Paused) => "paused",
        _ => "stopped",
    };
    let typed = inner.typed.get(&vmid).cloned().unwrap_or_default();
    let last = typed.rsplit('\n').next().unwrap_or("").to_string();
    vec![
        name,
        format!("VMID {vmid} on {}", s.node),
        format!("status: {state}"),
        String::new(),
        format!("> {last}"),
    ]
}

/// A full-screen raw FramebufferUpdate in the client's pixel format.
fn frame(st: &State, s: &Session, f: PixelFormat) -> Vec<u8> {
    let lines = screen_lines(st, s);
    let bg: [u8; 3] = if lines.iter().any(|l| l == "status: running") {
        [16, 32, 64]
    } else {
        [48, 48, 48]
    };
    let fg: [u8; 3] = [230, 230, 230];
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut on = vec![false; w * h];
    for (row, line) in lines.iter().enumerate() {
        for (col, ch) in line.chars().take(w / 16 - 2).enumerate() {
            let glyph = font8x8::legacy::BASIC_LEGACY
                .get(ch as usize)
                .copied()
                .unwrap_or([0; 8]);
            for (gy, bits) in glyph.iter().enumerate() {
                for gx in 0..8 {
                    if bits >> gx & 1 == 1 {
                        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                            let x = 16 + col * 16 + gx * 2 + dx;
                            let y = 24 + row * 24 + gy * 2 + dy;
                            if x < w && y < h {
                                on[y * w + x] = true;
                            }
                        }
                    }
                }
            }
        }
    }
    let encode = |c: [u8; 3]| -> [u8; 4] {
        let v = (u32::from(c[0]) << f.shifts[0])
            | (u32::from(c[1]) << f.shifts[1])
            | (u32::from(c[2]) << f.shifts[2]);
        if f.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let (pb, pf) = (encode(bg), encode(fg));
    let mut out = Vec::with_capacity(16 + w * h * 4);
    out.extend_from_slice(&[0, 0, 0, 1]);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&WIDTH.to_be_bytes());
    out.extend_from_slice(&HEIGHT.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    for px in on {
        out.extend_from_slice(if px { &pf } else { &pb });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn des_key_bits_are_reversed() {
        // Reference pair from the VNC auth quirk: key bytes are bit-mirrored before DES.
        let challenge = [0u8; 16];
        let a = vnc_auth_response("password", &challenge);
        let b = vnc_auth_response("passwordXYZ", &challenge);
        assert_eq!(a, b, "only the first 8 bytes count");
        assert_ne!(a, vnc_auth_response("Password", &challenge));
    }
}
