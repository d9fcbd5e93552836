//! Console benchmarks (figures printed, nothing asserted): time from "open" to the first
//! full frame, relay throughput and added latency per message (through the relay versus
//! straight to pvesim's `vncwebsocket`), and memory per idle console.
//!
//! `cargo bench -p lab --bench console`

use lab::console::{self, ByteLink, rfb::Buffered};
use lab::model::{ClusterForm, Role};
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Error, Services, auth, clusters, inventory};
use pvesim::{Sim, SimConfig};
use secrecy::ExposeSecret;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

struct Pipe {
    rx: mpsc::Receiver<Vec<u8>>,
    tx: mpsc::Sender<Vec<u8>>,
}

impl ByteLink for Pipe {
    async fn recv(&mut self) -> lab::Result<Option<Vec<u8>>> {
        Ok(self.rx.recv().await)
    }
    async fn send(&mut self, bytes: Vec<u8>) -> lab::Result<()> {
        self.tx
            .send(bytes)
            .await
            .map_err(|_| Error::Unavailable("gone".into()))
    }
    async fn close(&mut self) {}
}

fn pipe() -> (Pipe, Pipe) {
    let (a_tx, a_rx) = mpsc::channel(1);
    let (b_tx, b_rx) = mpsc::channel(1);
    (Pipe { rx: a_rx, tx: b_tx }, Pipe { rx: b_rx, tx: a_tx })
}

/// The browser's side of an RFB session after the handshake: ServerInit read.
async fn client_handshake<L: ByteLink>(b: &mut Buffered<L>, auth: Option<&str>) {
    b.read_exact(12).await.unwrap();
    b.write(b"RFB 003.008\n").await.unwrap();
    let n = b.read_exact(1).await.unwrap()[0] as usize;
    let types = b.read_exact(n).await.unwrap();
    match auth {
        None => {
            assert!(types.contains(&1));
            b.write(&[1]).await.unwrap();
        }
        Some(password) => {
            b.write(&[2]).await.unwrap();
            let challenge: [u8; 16] = b.read_exact(16).await.unwrap().try_into().unwrap();
            b.write(&console::rfb::vnc_auth_response(password, &challenge))
                .await
                .unwrap();
        }
    }
    assert_eq!(b.read_exact(4).await.unwrap(), [0, 0, 0, 0]);
    b.write(&[1]).await.unwrap();
    let init = b.read_exact(24).await.unwrap();
    let name = u32::from_be_bytes(init[20..24].try_into().unwrap()) as usize;
    b.read_exact(name).await.unwrap();
}

/// One update request for a `w`×`h` rectangle and its full answer; returns the bytes read.
async fn frame<L: ByteLink>(b: &mut Buffered<L>, w: u16, h: u16) -> usize {
    let mut req = vec![3, 0, 0, 0, 0, 0];
    req.extend_from_slice(&w.to_be_bytes());
    req.extend_from_slice(&h.to_be_bytes());
    b.write(&req).await.unwrap();
    let header = b.read_exact(16).await.unwrap();
    let (rw, rh) = (
        u16::from_be_bytes([header[8], header[9]]) as usize,
        u16::from_be_bytes([header[10], header[11]]) as usize,
    );
    b.read_exact(rw * rh * 4).await.unwrap();
    16 + rw * rh * 4
}

fn rss_kb() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(SimConfig::for_tests(dir.path().join("pve"))).unwrap();
    let db = lab::db::connect(&format!("sqlite://{}", dir.path().join("b.db").display()))
        .await
        .unwrap();
    lab::db::migrate(&db).await.unwrap();
    let services = Services::new(db, AuthPolicy::default(), SecretBox::ephemeral());
    let view = clusters::create(
        &services,
        &ClusterForm::with_token("b", &sim.url(), sim.fingerprint(), &sim.token()).unwrap(),
    )
    .await
    .unwrap();
    let cluster = clusters::find(&services, view.id).await.unwrap();
    lab::sync::quick::run(&services, &cluster).await.unwrap();
    let vmid = 100;
    let mut users = Vec::new();
    for i in 0..25 {
        let name = format!("u{i}");
        auth::create_user(
            &services,
            auth::NewUser {
                username: name.clone(),
                display_name: String::new(),
                email: None,
                role: Role::Admin,
                password: "bench password 1".into(),
            },
        )
        .await
        .unwrap();
        users.push(auth::find_user(&services, &name).await.unwrap().unwrap());
    }
    let _ = inventory::first_vms(&services, view.id, 1).await;
    // Each relay runs under an access watch, as in the server: a session per user, one
    // watch per console (they are idle here: no revocation happens).
    let mut sessions = Vec::new();
    for user in &users {
        let token = auth::start_session(&services, user.id, None).await.unwrap();
        sessions.push(
            auth::resolve_session(&services, &token)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let watch =
        |session: &auth::Session| console::AccessWatch::new(&services, session, view.id, vmid);

    // Time to first frame, through the relay (open = permission check + vncproxy + connect +
    // VNC auth; then the browser's handshake and a full 640×400 frame).
    let mut firsts = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let upstream = console::open(&services, &users[0], view.id, vmid)
            .await
            .unwrap();
        let (relay_side, browser_side) = pipe();
        let relay = tokio::spawn(console::relay(
            relay_side,
            upstream,
            console::IDLE,
            watch(&sessions[0]),
        ));
        let mut b = Buffered::new(browser_side);
        client_handshake(&mut b, None).await;
        frame(&mut b, 640, 400).await;
        firsts.push(t.elapsed());
        drop(b);
        let _ = relay.await;
    }
    firsts.sort();
    println!(
        "open to first full frame (relay): p50 {:.1} ms, max {:.1} ms",
        firsts[10].as_secs_f64() * 1e3,
        firsts[19].as_secs_f64() * 1e3
    );

    // Throughput and per-message latency: relay versus straight to pvesim.
    let client = clusters::client(&services, &cluster).unwrap();
    for through_relay in [false, true] {
        let (mut b, relay) = if through_relay {
            let upstream = console::open(&services, &users[0], view.id, vmid)
                .await
                .unwrap();
            let (relay_side, browser_side) = pipe();
            let relay = tokio::spawn(console::relay(
                relay_side,
                upstream,
                console::IDLE,
                watch(&sessions[0]),
            ));
            let mut b = Buffered::new(Box::new(browser_side) as Box<dyn DynLink>);
            client_handshake(&mut b, None).await;
            (b, Some(relay))
        } else {
            let ticket = client
                .vnc_proxy("pve1", lab::pve::GuestKind::Qemu, vmid as u32)
                .await
                .unwrap();
            let socket = client
                .vnc_websocket("pve1", lab::pve::GuestKind::Qemu, vmid as u32, &ticket)
                .await
                .unwrap();
            let mut b = Buffered::new(Box::new(socket) as Box<dyn DynLink>);
            client_handshake(&mut b, Some(ticket.password.expose_secret())).await;
            (b, None)
        };
        let t = Instant::now();
        let mut bytes = 0;
        for _ in 0..50 {
            bytes += frame(&mut b, 640, 400).await;
        }
        let secs = t.elapsed().as_secs_f64();
        let mut small = Vec::new();
        for _ in 0..300 {
            let t = Instant::now();
            frame(&mut b, 1, 1).await;
            small.push(t.elapsed());
        }
        small.sort();
        println!(
            "{:<7} 50 full frames: {:>6.1} MB/s; 1-pixel update round trip p50 {:.3} ms p99 {:.3} ms",
            if through_relay { "relay" } else { "direct" },
            bytes as f64 / secs / 1e6,
            small[150].as_secs_f64() * 1e3,
            small[297].as_secs_f64() * 1e3
        );
        drop(b);
        if let Some(relay) = relay {
            let _ = relay.await;
        }
    }

    // Memory per idle console: 100 open consoles (25 users × 4), handshake done, no traffic.
    let before = rss_kb();
    let mut held = Vec::new();
    for (user, session) in users.iter().zip(&sessions) {
        for _ in 0..console::MAX_PER_USER {
            let upstream = console::open(&services, user, view.id, vmid).await.unwrap();
            let (relay_side, browser_side) = pipe();
            let relay = tokio::spawn(console::relay(
                relay_side,
                upstream,
                console::IDLE,
                watch(session),
            ));
            let mut b = Buffered::new(browser_side);
            client_handshake(&mut b, None).await;
            held.push((b, relay));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kb();
    println!(
        "100 idle consoles: RSS +{} kB = {:.1} kB per console (relay, both WebSockets and pvesim's side)",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / 100.0
    );
    drop(held);
}

/// A boxed future of a link.
type Boxed<'a, T> = std::pin::Pin<Box<dyn Future<Output = lab::Result<T>> + Send + 'a>>;

/// Object-safe view of a link, so both kinds of stream fit one variable.
trait DynLink: Send {
    fn recv_boxed(&mut self) -> Boxed<'_, Option<Vec<u8>>>;
    fn send_boxed(&mut self, bytes: Vec<u8>) -> Boxed<'_, ()>;
}

impl<T: ByteLink> DynLink for T {
    fn recv_boxed(&mut self) -> Boxed<'_, Option<Vec<u8>>> {
        Box::pin(self.recv())
    }
    fn send_boxed(&mut self, bytes: Vec<u8>) -> Boxed<'_, ()> {
        Box::pin(self.send(bytes))
    }
}

impl ByteLink for Box<dyn DynLink> {
    async fn recv(&mut self) -> lab::Result<Option<Vec<u8>>> {
        (**self).recv_boxed().await
    }
    async fn send(&mut self, bytes: Vec<u8>) -> lab::Result<()> {
        (**self).send_boxed(bytes).await
    }
    async fn close(&mut self) {}
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
