//! The terminal side of `termproxy` (proxmox/pve-xtermjs `termproxy/src/main.rs`):
//! the client's first message is `<user>:<ticket>\n`; the server answers `OK` and then raw
//! terminal output. Client frames: `0:<len>:<data>` input (`len` in UTF-8 bytes),
//! `1:<cols>:<rows>:` resize, `2` keep-alive; anything else is skipped. Behind it runs a tiny
//! simulated shell (`hostname`, `whoami`, `uname -a`, `echo`, `stty size`, `exit`, ...).

use super::{Closed, Session, WsStream, record_input};
use crate::auth;
use crate::model::State;

pub(crate) async fn run(st: &State, ws: &mut WsStream, s: &Session) -> Result<(), Closed> {
    // First line: `user:ticket\n` (the ticket itself contains ':' so split at the first).
    let mut first = Vec::new();
    while !first.contains(&b'\n') {
        first.extend(ws.read_some().await?);
    }
    let pos = first
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(first.len());
    let rest = first.split_off(pos + 1);
    let line = String::from_utf8_lossy(&first[..pos]).into_owned();
    let (user, ticket) = line.split_once(':').ok_or(Closed("bad auth line"))?;
    let path = s
        .vmid
        .map_or_else(|| format!("/nodes/{}", s.node), |v| format!("/vms/{v}"));
    if user != s.authid
        || !(ticket == s.ticket
            && auth::verify_vnc_ticket(&st.secret, ticket, user, &path, s.port, st.now()))
    {
        return Err(Closed("terminal ticket rejected"));
    }
    let host = hostname(st, s);
    let prompt = format!("root@{host}:~# ");
    ws.write(
        format!("OK\r\nLinux {host} 6.14.11-4-pve #1 SMP PREEMPT_DYNAMIC x86_64\r\n\r\n{prompt}")
            .as_bytes(),
    )
    .await?;
    let mut shell = Shell {
        host,
        line: String::new(),
        size: (80, 24),
    };
    let mut buf = rest;
    loop {
        let (out, close) = process(st, s, &mut shell, &mut buf, &prompt);
        if !out.is_empty() {
            ws.write(&out).await?;
        }
        if close {
            return Ok(());
        }
        buf.extend(ws.read_some().await?);
    }
}

struct Shell {
    host: String,
    line: String,
    size: (u32, u32),
}

fn hostname(st: &State, s: &Session) -> String {
    let Some(vmid) = s.vmid else {
        return s.node.clone();
    };
    st.lock()
        .store
        .get(vmid)
        .and_then(|g| {
            g.conf
                .get("name")
                .or(g.conf.get("hostname"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("vm{vmid}"))
}

/// Consumes complete frames from `buf`; returns output bytes and whether to close.
fn process(
    st: &State,
    s: &Session,
    sh: &mut Shell,
    buf: &mut Vec<u8>,
    prompt: &str,
) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        match buf.first() {
            None => return (out, false),
            Some(b'2') => {
                buf.remove(0);
            }
            Some(b'0') => {
                let Some((len, header)) = parse_num(&buf[1..]) else {
                    return (out, false);
                };
                if buf[1 + header] != b':' {
                    buf.remove(0);
                    continue;
                }
                let start = 2 + header;
                if buf.len() < start + len {
                    return (out, false);
                }
                let data: Vec<u8> = buf.drain(..start + len).skip(start).collect();
                let text = String::from_utf8_lossy(&data).into_owned();
                record_input(st, s.vmid, &text);
                if input(sh, &text, &mut out, prompt) {
                    return (out, true);
                }
            }
            Some(b'1') => {
                let Some((cols, h1)) = parse_num(&buf[1..]) else {
                    return (out, false);
                };
                let Some((rows, h2)) = parse_num(&buf[1 + h1..]) else {
                    return (out, false);
                };
                if buf.get(1 + h1 + h2) != Some(&b':') {
                    if buf.len() > 1 + h1 + h2 {
                        buf.remove(0);
                    }
                    return (out, false);
                }
                buf.drain(..2 + h1 + h2);
                sh.size = (cols as u32, rows as u32);
            }
            Some(_) => {
                // Unknown bytes are skipped, as termproxy does.
                buf.remove(0);
            }
        }
    }
}

/// Parses `:<digits>` at the start; returns the number and the bytes consumed.
fn parse_num(b: &[u8]) -> Option<(usize, usize)> {
    if b.first() != Some(&b':') {
        return None;
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || b.len() <= 1 + digits {
        return None;
    }
    let n = std::str::from_utf8(&b[1..1 + digits]).ok()?.parse().ok()?;
    Some((n, 1 + digits))
}

/// Feeds typed text to the shell; returns true on `exit`.
fn input(sh: &mut Shell, text: &str, out: &mut Vec<u8>, prompt: &str) -> bool {
    for c in text.chars() {
        match c {
            '\r' | '\n' => {
                let cmd = std::mem::take(&mut sh.line);
                out.extend_from_slice(b"\r\n");
                let cmd = cmd.trim();
                if cmd == "exit" || cmd == "logout" {
                    out.extend_from_slice(b"logout\r\n");
                    return true;
                }
                let result = run_command(sh, cmd);
                if !result.is_empty() {
                    out.extend_from_slice(result.replace('\n', "\r\n").as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(prompt.as_bytes());
            }
            '\u{7f}' | '\u{8}' if sh.line.pop().is_some() => out.extend_from_slice(b"\x08 \x08"),
            '\u{3}' => {
                sh.line.clear();
                out.extend_from_slice(b"^C\r\n");
                out.extend_from_slice(prompt.as_bytes());
            }
            c if !c.is_control() => {
                sh.line.push(c);
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
            _ => {}
        }
    }
    false
}

fn run_command(sh: &Shell, cmd: &str) -> String {
    let mut words = cmd.split_whitespace();
    match words.next() {
        None => String::new(),
        Some("hostname") => sh.host.clone(),
        Some("whoami") => "root".into(),
        Some("uname") => format!(
            "Linux {} 6.14.11-4-pve #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux",
            sh.host
        ),
        Some("echo") => words.collect::<Vec<_>>().join(" "),
        Some("pwd") => "/root".into(),
        Some("ls") => String::new(),
        Some("stty") if cmd.ends_with("size") => format!("{} {}", sh.size.1, sh.size.0),
        Some("true") => String::new(),
        Some(other) => format!("-bash: {other}: command not found"),
    }
}
