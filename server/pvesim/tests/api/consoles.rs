//! Console protocols end to end over the real WebSocket upgrade: the RFB handshake with VNC
//! authentication checked by an independent DES implementation, and termproxy framing.

use std::time::Duration;

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::client::{Auth, Client};
use crate::sim_with;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn open(c: &Client, path: &str, port: &str, ticket: &str) -> Ws {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("port", port)
        .append_pair("vncticket", ticket)
        .finish();
    let mut req = format!("wss://pve1:8006/api2/json{path}?{q}")
        .into_client_request()
        .expect("request");
    let Auth::Ticket { ticket: cookie, .. } = &c.auth else {
        panic!("ticket auth expected")
    };
    req.headers_mut().insert(
        "Cookie",
        format!(
            "PVEAuthCookie={}",
            cookie
                .replace('+', "%2B")
                .replace('=', "%3D")
                .replace('/', "%2F")
        )
        .parse()
        .expect("cookie"),
    );
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "binary".parse().expect("proto"));
    let stream = c.tls().await.expect("tls");
    let (ws, resp) = tokio_tungstenite::client_async(req, stream)
        .await
        .expect("websocket upgrade");
    assert_eq!(resp.status().as_u16(), 101);
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("binary")
    );
    ws
}

/// Reads exactly `n` bytes from the binary stream.
struct Reader {
    ws: Ws,
    buf: Vec<u8>,
}

impl Reader {
    async fn read(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            match tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .expect("read timeout")
            {
                Some(Ok(Message::Binary(b))) => {
                    assert!(b.len() <= 128 << 10, "frames are at most 128 KiB");
                    self.buf.extend_from_slice(&b);
                }
                Some(Ok(Message::Close(_))) | None => panic!("closed while waiting for {n} bytes"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("websocket error: {e}"),
            }
        }
        self.buf.drain(..n).collect()
    }
    async fn send(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .expect("send");
    }
}

/// VNC authentication as noVNC computes it: DES with each key byte bit-mirrored.
fn vnc_des(password: &str, challenge: &[u8]) -> Vec<u8> {
    let mut key = [0u8; 8];
    for (i, b) in password.bytes().take(8).enumerate() {
        let mut r = 0u8;
        for bit in 0..8 {
            if b & (1 << bit) != 0 {
                r |= 0x80 >> bit;
            }
        }
        key[i] = r;
    }
    let cipher = des::Des::new_from_slice(&key).expect("key");
    let mut out = Vec::new();
    for chunk in challenge.chunks(8) {
        let mut block = GenericArray::clone_from_slice(chunk);
        cipher.encrypt_block(&mut block);
        out.extend_from_slice(&block);
    }
    out
}

async fn handshake(r: &mut Reader, password: &str) -> u32 {
    assert_eq!(r.read(12).await, b"RFB 003.008\n");
    r.send(b"RFB 003.008\n").await;
    assert_eq!(r.read(2).await, [1, 2], "one security type: VNC auth");
    r.send(&[2]).await;
    let challenge = r.read(16).await;
    r.send(&vnc_des(password, &challenge)).await;
    u32::from_be_bytes(r.read(4).await.try_into().expect("u32"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vnc_console_speaks_rfb_with_vnc_auth_and_sees_keys() {
    let (_d, sim) = sim_with(None);
    let c = Client::new(&sim).login("root@pam", "secret").await;
    let v = c
        .call(
            "POST",
            "/nodes/pve1/qemu/100/vncproxy",
            &[("websocket", "1")],
        )
        .await
        .data();
    let ticket = v["ticket"].as_str().expect("ticket").to_string();
    assert!(ticket.starts_with("PVEVNC:"));
    assert!(
        v["cert"]
            .as_str()
            .is_some_and(|c| c.contains("BEGIN CERTIFICATE"))
    );
    let port = v["port"].to_string();
    let mut r = Reader {
        ws: open(&c, "/nodes/pve1/qemu/100/vncwebsocket", &port, &ticket).await,
        buf: Vec::new(),
    };
    assert_eq!(handshake(&mut r, &ticket).await, 0, "SecurityResult OK");
    r.send(&[1]).await; // ClientInit shared
    let init = r.read(24).await;
    assert_eq!(u16::from_be_bytes([init[0], init[1]]), 640);
    assert_eq!(init[4], 32, "32 bpp");
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    assert_eq!(r.read(name_len).await, b"web-01");
    // noVNC: SetPixelFormat (RGB shifts 0/8/16), SetEncodings, full FramebufferUpdateRequest.
    r.send(&[
        0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16, 0, 0, 0,
    ])
    .await;
    r.send(&[2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21])
        .await;
    r.send(&[3, 0, 0, 0, 0, 0, 2, 128, 1, 144]).await;
    let head = r.read(16).await;
    assert_eq!(&head[..4], &[0, 0, 0, 1], "one rectangle");
    assert_eq!(&head[12..16], &[0, 0, 0, 0], "raw encoding");
    r.read(640 * 400 * 4).await;
    // KeyEvent 'h', 'i' down: input arrives.
    r.send(&[3, 1, 0, 0, 0, 0, 2, 128, 1, 144]).await;
    for key in [b'h', b'i'] {
        r.send(&[4, 1, 0, 0, 0, 0, 0, key]).await;
    }
    let head = r.read(16).await;
    assert_eq!(&head[..4], &[0, 0, 0, 1], "an update follows the key");
    r.read(640 * 400 * 4).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sim.control().console_input(Some(100)), "hi");

    // A wrong password fails with SecurityResult 1 and a reason.
    let v = c
        .call(
            "POST",
            "/nodes/pve1/qemu/100/vncproxy",
            &[("websocket", "1")],
        )
        .await
        .data();
    let ticket = v["ticket"].as_str().expect("ticket").to_string();
    let mut r = Reader {
        ws: open(
            &c,
            "/nodes/pve1/qemu/100/vncwebsocket",
            &v["port"].to_string(),
            &ticket,
        )
        .await,
        buf: Vec::new(),
    };
    assert_eq!(handshake(&mut r, "wrongpwd").await, 1);
    let len = u32::from_be_bytes(r.read(4).await.try_into().expect("u32")) as usize;
    assert_eq!(r.read(len).await, b"Authentication failed");

    // Another identity cannot use the ticket.
    let other = Client::new(&sim).login("teacher1@pve", "secret").await;
    let q = [("port", v["port"].to_string()), ("vncticket", ticket)];
    let denied = other
        .call(
            "GET",
            "/nodes/pve1/qemu/100/vncwebsocket",
            &[("port", &q[0].1), ("vncticket", &q[1].1)],
        )
        .await;
    assert_eq!(
        (denied.status, denied.reason.as_str()),
        (401, "permission denied - invalid PVEVNC ticket")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vnc_password_field_of_newer_qemu_server() {
    let (_d, sim) = sim_with(Some(|c| c.vnc_password_field = true));
    let c = Client::new(&sim).login("root@pam", "secret").await;
    let v = c
        .call(
            "POST",
            "/nodes/pve1/qemu/100/vncproxy",
            &[("websocket", "1")],
        )
        .await
        .data();
    let password = v["password"].as_str().expect("password").to_string();
    let ticket = v["ticket"].as_str().expect("ticket").to_string();
    assert_eq!(password.len(), 8);
    assert!(ticket.starts_with(&format!("{password}:PVEVNC:")));
    let mut r = Reader {
        ws: open(
            &c,
            "/nodes/pve1/qemu/100/vncwebsocket",
            &v["port"].to_string(),
            &ticket,
        )
        .await,
        buf: Vec::new(),
    };
    assert_eq!(handshake(&mut r, &password).await, 0);
}

async fn read_until(r: &mut Reader, needle: &str) -> String {
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen.extend(r.read(1).await);
        if String::from_utf8_lossy(&seen).contains(needle) {
            return String::from_utf8_lossy(&seen).into_owned();
        }
    }
    panic!(
        "'{needle}' not seen in {:?}",
        String::from_utf8_lossy(&seen)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn termproxy_handshake_and_framing() {
    let (_d, sim) = sim_with(None);
    let c = Client::new(&sim).login("root@pam", "secret").await;
    let t = c
        .call(
            "POST",
            "/nodes/pve2/qemu/102/termproxy",
            &[("serial", "serial0")],
        )
        .await
        .data();
    assert!(
        t["upid"]
            .as_str()
            .is_some_and(|u| u.starts_with("UPID:pve1:") && u.contains(":vncproxy:102:"))
    );
    let ticket = t["ticket"].as_str().expect("ticket").to_string();
    let mut r = Reader {
        ws: open(
            &c,
            "/nodes/pve2/qemu/102/vncwebsocket",
            &t["port"].to_string(),
            &ticket,
        )
        .await,
        buf: Vec::new(),
    };
    r.send(format!("root@pam:{ticket}\n").as_bytes()).await;
    assert_eq!(r.read(2).await, b"OK");
    read_until(&mut r, "# ").await;
    r.send(b"2").await; // keep-alive
    r.send(b"1:100:40:").await; // resize
    let cmd = "hostname\r";
    r.send(format!("0:{}:{cmd}", cmd.len()).as_bytes()).await;
    let out = read_until(&mut r, "# ").await;
    assert!(out.contains("student-02"), "{out}");
    let cmd = "stty size\r";
    r.send(format!("0:{}:{cmd}", cmd.len()).as_bytes()).await;
    let out = read_until(&mut r, "# ").await;
    assert!(out.contains("40 100"), "{out}");
    assert!(
        sim.control()
            .console_input(Some(102))
            .contains("hostname\r")
    );

    // A wrong first line closes the connection.
    let t = c.call("POST", "/nodes/pve1/termproxy", &[]).await.data();
    assert!(
        t["upid"]
            .as_str()
            .is_some_and(|u| u.contains(":vncshell::root@pam:"))
    );
    let ticket = t["ticket"].as_str().expect("ticket").to_string();
    let mut ws = open(
        &c,
        "/nodes/pve1/vncwebsocket",
        &t["port"].to_string(),
        &ticket,
    )
    .await;
    ws.send(Message::Binary(
        b"root@pam:PVEVNC:00000000::bogus\n".to_vec().into(),
    ))
    .await
    .expect("send");
    let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("answer");
    assert!(
        matches!(next, Some(Ok(Message::Close(_))) | None | Some(Err(_))),
        "closed, got {next:?}"
    );
}
