//! The console relay against pvesim's RFB server: the browser side sees a "no auth" RFB
//! handshake (the ticket stays on the server), a full framebuffer arrives intact, key events
//! reach the VM; others' VMs, made-up VMIDs and stopped VMs are refused before any Proxmox
//! call; the per-user limit holds and frees its slots; an open console ends within seconds
//! of every way access can go (`support/revoke.rs`), and only then.

#[path = "support/revoke.rs"]
mod revoke;

use lab::console::{self, ByteLink};
use lab::db::entity::vm;
use lab::model::{ClusterForm, Role};
use lab::secrets::SecretBox;
use lab::{AuthPolicy, Error, Services, auth, clusters, inventory};
use pvesim::{Sim, SimConfig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::Duration;
use tokio::sync::mpsc;

/// The browser's end of an in-memory WebSocket: one frame of buffer each way.
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
            .map_err(|_| Error::Unavailable("browser gone".into()))
    }
    async fn close(&mut self) {}
}

/// The test's view of the browser: reads exact byte counts from the relay.
struct Browser {
    rx: mpsc::Receiver<Vec<u8>>,
    tx: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl Browser {
    async fn read(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let more = tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
                .await
                .expect("the relay answers within 5 s")
                .expect("the relay is open");
            self.buf.extend_from_slice(&more);
        }
        self.buf.drain(..n).collect()
    }
    async fn send(&mut self, bytes: &[u8]) {
        self.tx.send(bytes.to_vec()).await.unwrap();
    }
}

fn pipe() -> (Pipe, Browser) {
    let (to_browser, from_relay) = mpsc::channel(1);
    let (to_relay, from_browser) = mpsc::channel(1);
    (
        Pipe {
            rx: from_browser,
            tx: to_browser,
        },
        Browser {
            rx: from_relay,
            tx: to_relay,
            buf: Vec::new(),
        },
    )
}

struct World {
    _dir: tempfile::TempDir,
    sim: Sim,
    services: Services,
    cluster: i32,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(SimConfig::for_tests(dir.path().join("pve"))).unwrap();
    let db = lab::db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    lab::db::migrate(&db).await.unwrap();
    let services = Services::new(db, AuthPolicy::default(), SecretBox::ephemeral());
    let view = clusters::create(
        &services,
        &ClusterForm::with_token("lab", &sim.url(), sim.fingerprint(), &sim.token()).unwrap(),
    )
    .await
    .unwrap();
    let row = clusters::find(&services, view.id).await.unwrap();
    lab::sync::quick::run(&services, &row).await.unwrap();
    World {
        _dir: dir,
        sim,
        services,
        cluster: view.id,
    }
}

impl World {
    async fn user(&self, name: &str) -> lab::db::entity::user::Model {
        auth::create_user(
            &self.services,
            auth::NewUser {
                username: name.into(),
                display_name: String::new(),
                email: None,
                role: Role::Student,
                password: "correct horse battery".into(),
            },
        )
        .await
        .unwrap();
        auth::find_user(&self.services, name)
            .await
            .unwrap()
            .unwrap()
    }

    async fn vm_with_status(&self, status: &str) -> i32 {
        vm::Entity::find()
            .filter(vm::Column::Status.eq(status))
            .filter(vm::Column::Kind.eq("qemu"))
            .filter(vm::Column::Template.eq(false))
            .one(&self.services.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("a {status} VM in the fixture world"))
            .vmid
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_gets_a_screen_and_its_keys_reach_the_vm() {
    let w = world().await;
    let ann = w.user("ann").await;
    let vmid = w.vm_with_status("running").await;
    inventory::assign(&w.services, w.cluster, vmid, "ann")
        .await
        .unwrap();
    let upstream = console::open(&w.services, &ann, w.cluster, vmid)
        .await
        .unwrap();
    let (link, mut browser) = pipe();
    let relay = tokio::spawn(console::relay(
        link,
        upstream,
        console::IDLE,
        watch(&w, &ann, vmid).await,
    ));

    assert_eq!(browser.read(12).await, b"RFB 003.008\n");
    browser.send(b"RFB 003.008\n").await;
    assert_eq!(
        browser.read(2).await,
        [1, 1],
        "only 'None' is offered to the browser"
    );
    browser.send(&[1]).await;
    assert_eq!(browser.read(4).await, [0, 0, 0, 0]);
    browser.send(&[1]).await; // ClientInit, shared
    let init = browser.read(24).await;
    let (width, height) = (
        u16::from_be_bytes([init[0], init[1]]),
        u16::from_be_bytes([init[2], init[3]]),
    );
    assert_eq!((width, height), (640, 400));
    let name_len = u32::from_be_bytes(init[20..24].try_into().unwrap()) as usize;
    browser.read(name_len).await;
    // A full, non-incremental update: 640×400×4 bytes of raw pixels arrive whole.
    let mut request = vec![3, 0, 0, 0, 0, 0];
    request.extend_from_slice(&width.to_be_bytes());
    request.extend_from_slice(&height.to_be_bytes());
    browser.send(&request).await;
    let header = browser.read(4 + 12).await;
    assert_eq!(header[0], 0, "FramebufferUpdate");
    assert_eq!(
        u16::from_be_bytes([header[2], header[3]]),
        1,
        "one rectangle"
    );
    let pixels = browser.read(640 * 400 * 4).await;
    assert_eq!(pixels.len(), 1_024_000);
    // Typed keys reach the VM.
    for key in [b'h', b'i'] {
        for down in [1u8, 0] {
            browser.send(&[4, down, 0, 0, 0, 0, 0, key]).await;
        }
    }
    let mut typed = String::new();
    for _ in 0..50 {
        typed = w.sim.control().console_input(Some(vmid as u32));
        if typed.contains("hi") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(typed.contains("hi"), "typed: {typed:?}");
    // The browser goes away: the relay ends and frees the slot.
    drop(browser);
    let stats = tokio::time::timeout(Duration::from_secs(5), relay)
        .await
        .expect("the relay ends when the browser leaves")
        .unwrap()
        .unwrap();
    assert!(stats.to_browser >= 1_024_000, "{stats:?}");
    assert_eq!(w.services.consoles.open(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consoles_are_refused_before_any_proxmox_call() {
    let w = world().await;
    let ann = w.user("ann").await;
    let bob = w.user("bob").await;
    let running = w.vm_with_status("running").await;
    let stopped = w.vm_with_status("stopped").await;
    inventory::assign(&w.services, w.cluster, running, "ann")
        .await
        .unwrap();
    inventory::assign(&w.services, w.cluster, stopped, "ann")
        .await
        .unwrap();
    w.sim.control().reset_counters();
    let err = |r: lab::Result<console::Upstream>| r.err().expect("refused");
    assert!(matches!(
        err(console::open(&w.services, &bob, w.cluster, running).await),
        Error::NotFound(_)
    ));
    assert!(matches!(
        err(console::open(&w.services, &ann, w.cluster, 77777).await),
        Error::NotFound(_)
    ));
    assert!(matches!(
        err(console::open(&w.services, &ann, 4242, running).await),
        Error::NotFound(_)
    ));
    let stopped_err = err(console::open(&w.services, &ann, w.cluster, stopped).await);
    assert!(stopped_err.to_string().contains("stopped"), "{stopped_err}");
    assert_eq!(
        w.sim
            .control()
            .count("POST /nodes/{node}/qemu/{vmid}/vncproxy"),
        0,
        "{:?}",
        w.sim.control().counters()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_has_at_most_four_consoles_and_closing_frees_them() {
    let w = world().await;
    let ann = w.user("ann").await;
    let vmid = w.vm_with_status("running").await;
    inventory::assign(&w.services, w.cluster, vmid, "ann")
        .await
        .unwrap();
    let mut open = Vec::new();
    for _ in 0..console::MAX_PER_USER {
        open.push(
            console::open(&w.services, &ann, w.cluster, vmid)
                .await
                .unwrap(),
        );
    }
    let fifth = console::open(&w.services, &ann, w.cluster, vmid).await;
    assert!(matches!(fifth, Err(Error::Conflict(_))));
    assert_eq!(w.services.consoles.open(), console::MAX_PER_USER);
    open.pop();
    assert!(
        console::open(&w.services, &ann, w.cluster, vmid)
            .await
            .is_ok()
    );
}

/// The watch the server would give `user`'s relay on `vmid` (in a fresh session).
async fn watch(w: &World, user: &lab::db::entity::user::Model, vmid: i32) -> console::AccessWatch {
    let token = auth::start_session(&w.services, user.id, None)
        .await
        .unwrap();
    let session = auth::resolve_session(&w.services, &token)
        .await
        .unwrap()
        .unwrap();
    console::AccessWatch::new(&w.services, &session, w.cluster, vmid)
}

/// The browser's side of a console that streams: the "no auth" handshake, then one full
/// screen. Returns the screen's size.
async fn screen(browser: &mut Browser) -> (u16, u16) {
    assert_eq!(browser.read(12).await, b"RFB 003.008\n");
    browser.send(b"RFB 003.008\n").await;
    assert_eq!(browser.read(2).await, [1, 1]);
    browser.send(&[1]).await;
    assert_eq!(browser.read(4).await, [0, 0, 0, 0]);
    browser.send(&[1]).await;
    let init = browser.read(24).await;
    let (width, height) = (
        u16::from_be_bytes([init[0], init[1]]),
        u16::from_be_bytes([init[2], init[3]]),
    );
    let name_len = u32::from_be_bytes(init[20..24].try_into().unwrap()) as usize;
    browser.read(name_len).await;
    frame(browser, width, height).await;
    (width, height)
}

/// Asks for a whole screen and reads it.
async fn frame(browser: &mut Browser, width: u16, height: u16) {
    let mut request = vec![3, 0, 0, 0, 0, 0];
    request.extend_from_slice(&width.to_be_bytes());
    request.extend_from_slice(&height.to_be_bytes());
    browser.send(&request).await;
    let header = browser.read(4 + 12).await;
    assert_eq!(header[0], 0, "FramebufferUpdate");
    browser.read(width as usize * height as usize * 4).await;
}

/// Reads until the relay drops its end (`None`), failing after `within`.
async fn closed(browser: &mut Browser, within: Duration) {
    tokio::time::timeout(within, async { while browser.rx.recv().await.is_some() {} })
        .await
        .expect("the browser's socket is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_console_ends_within_seconds_when_access_goes() {
    for cause in revoke::CAUSES {
        let scene = revoke::Scene::new(cause).await;
        let s = &scene.w.services;
        let upstream = console::open(s, &scene.viewer, scene.cluster_id(), scene.vm.vmid)
            .await
            .unwrap();
        let (link, mut browser) = pipe();
        let relay = tokio::spawn(console::relay(link, upstream, console::IDLE, scene.watch()));
        screen(&mut browser).await;

        scene.revoke(cause).await;
        let stats = revoke::ended(relay, &format!("{cause:?}")).await;
        assert!(stats.to_browser >= 1_024_000, "{cause:?}: it streamed");
        closed(&mut browser, Duration::from_secs(1)).await;
        assert_eq!(s.consoles.open(), 0, "{cause:?}: the slot is freed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_outlives_changes_that_leave_its_access() {
    let scene = revoke::Scene::new(revoke::Cause::SignOut).await;
    let upstream = console::open(
        &scene.w.services,
        &scene.ann,
        scene.cluster_id(),
        scene.vm.vmid,
    )
    .await
    .unwrap();
    let (link, mut browser) = pipe();
    let relay = tokio::spawn(console::relay(link, upstream, console::IDLE, scene.watch()));
    let (width, height) = screen(&mut browser).await;
    scene.unrelated_changes().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    frame(&mut browser, width, height).await;
    assert!(!relay.is_finished(), "the console still runs");
    // Her own session ending does end it (the same relay, so the wait above proved something).
    scene.revoke(revoke::Cause::SignOut).await;
    revoke::ended(relay, "ends at sign-out").await;
}

/// Another portal instance (or `proxlab user`) changes the database without telling this
/// process: the periodic re-check ends the console all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_ends_when_another_instance_takes_the_vm_away() {
    use lab::db::entity::assignment;
    let scene = revoke::Scene::new(revoke::Cause::Unassigned).await;
    let s = &scene.w.services;
    let upstream = console::open(s, &scene.ann, scene.cluster_id(), scene.vm.vmid)
        .await
        .unwrap();
    let (link, mut browser) = pipe();
    let watch = scene.watch().recheck_every(Duration::from_secs(1));
    let relay = tokio::spawn(console::relay(link, upstream, console::IDLE, watch));
    screen(&mut browser).await;
    // Straight to the database: no event is published.
    assignment::Entity::delete_many()
        .filter(assignment::Column::UserId.eq(scene.ann.id))
        .exec(&s.db)
        .await
        .unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(4), relay)
        .await
        .expect("the periodic re-check ends it")
        .unwrap()
        .unwrap();
    assert!(stats.revoked);
}
