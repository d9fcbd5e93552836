//! The relay with in-memory links (one message of buffer each way, like a socket that is
//! not being read): translation both ways, keep-alives, the idle timeout, backpressure and
//! the slot. Against pvesim's real termproxy: `server/lab/tests/terminal.rs`.

use super::*;
use crate::console::{ConsoleSlots, Payload};
use tokio::sync::mpsc;

/// One end of an in-memory WebSocket.
struct End {
    rx: mpsc::Receiver<Payload>,
    tx: mpsc::Sender<Vec<u8>>,
}

impl ByteLink for End {
    async fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.rx.recv().await.map(|p| match p {
            Payload::Binary(b) => b,
            Payload::Text(t) => t.into_bytes(),
        }))
    }
    async fn recv_message(&mut self) -> Result<Option<Payload>> {
        Ok(self.rx.recv().await)
    }
    async fn send(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.tx
            .send(bytes)
            .await
            .map_err(|_| Error::Unavailable("gone".into()))
    }
    async fn close(&mut self) {}
}

/// The test's side of a link: what it sends in, what comes out.
struct Peer {
    tx: mpsc::Sender<Payload>,
    rx: mpsc::Receiver<Vec<u8>>,
}

fn link() -> (End, Peer) {
    let (in_tx, in_rx) = mpsc::channel(1);
    let (out_tx, out_rx) = mpsc::channel(1);
    (
        End {
            rx: in_rx,
            tx: out_tx,
        },
        Peer {
            tx: in_tx,
            rx: out_rx,
        },
    )
}

fn terminal(slots: &ConsoleSlots, node: End, leftover: &[u8]) -> Terminal<End> {
    Terminal {
        node,
        leftover: leftover.to_vec(),
        slot: slots.take(1).unwrap(),
    }
}

const SLOW: Timing = Timing {
    idle: Duration::from_secs(3600),
    keepalive: Duration::from_secs(3600),
};

#[tokio::test]
async fn messages_are_translated_both_ways() {
    let slots = ConsoleSlots::default();
    let (browser, mut b) = link();
    let (node, mut n) = link();
    let relay = tokio::spawn(relay(
        browser,
        terminal(&slots, node, b"\r\nhost login: "),
        SLOW,
        AccessWatch::never(),
    ));
    assert_eq!(
        b.rx.recv().await.unwrap(),
        b"\r\nhost login: ",
        "output after OK"
    );
    b.tx.send(Payload::Binary(b"root\r".to_vec()))
        .await
        .unwrap();
    assert_eq!(n.rx.recv().await.unwrap(), b"0:5:root\r");
    b.tx.send(Payload::Text("resize:132:43".into()))
        .await
        .unwrap();
    assert_eq!(n.rx.recv().await.unwrap(), b"1:132:43:");
    // A bad resize is dropped, not typed; the next message still passes.
    b.tx.send(Payload::Text("resize:0:0".into())).await.unwrap();
    b.tx.send(Payload::Binary(b"x".to_vec())).await.unwrap();
    assert_eq!(n.rx.recv().await.unwrap(), b"0:1:x");
    n.tx.send(Payload::Binary(b"\x1b[1mbold".to_vec()))
        .await
        .unwrap();
    assert_eq!(
        b.rx.recv().await.unwrap(),
        b"\x1b[1mbold",
        "output passes unchanged"
    );
    assert_eq!(slots.open(), 1);
    drop(b);
    let stats = relay.await.unwrap().unwrap();
    assert_eq!(slots.open(), 0, "the slot is freed when the browser leaves");
    assert_eq!(stats.to_node, b"0:5:root\r1:132:43:0:1:x".len());
    assert!(!stats.idle_timeout);
}

#[tokio::test(start_paused = true)]
async fn keepalives_flow_while_quiet_but_do_not_keep_the_terminal_open() {
    let slots = ConsoleSlots::default();
    let (browser, _b) = link();
    let (node, mut n) = link();
    let timing = Timing {
        idle: Duration::from_secs(100),
        keepalive: Duration::from_secs(30),
    };
    let relay = tokio::spawn(relay(
        browser,
        terminal(&slots, node, b""),
        timing,
        AccessWatch::never(),
    ));
    let mut pings = Vec::new();
    while let Some(bytes) = n.rx.recv().await {
        pings.push(bytes);
    }
    // 30, 60, 90 s; then the idle timeout at 100 s closes the relay (and the channel).
    assert_eq!(pings, vec![b"2".to_vec(); 3]);
    let stats = relay.await.unwrap().unwrap();
    assert!(stats.idle_timeout);
    assert_eq!(slots.open(), 0);
}

#[tokio::test(start_paused = true)]
async fn traffic_postpones_the_idle_timeout() {
    let slots = ConsoleSlots::default();
    let (browser, b) = link();
    let (node, mut n) = link();
    let timing = Timing {
        idle: Duration::from_secs(100),
        keepalive: Duration::from_secs(3600),
    };
    let relay = tokio::spawn(relay(
        browser,
        terminal(&slots, node, b""),
        timing,
        AccessWatch::never(),
    ));
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(80)).await;
        b.tx.send(Payload::Binary(b"a".to_vec())).await.unwrap();
        assert_eq!(n.rx.recv().await.unwrap(), b"0:1:a");
    }
    assert!(
        !relay.is_finished(),
        "240 s with input every 80 s: still open"
    );
    let stats = relay.await.unwrap().unwrap();
    assert!(stats.idle_timeout);
}

#[tokio::test]
async fn a_browser_that_does_not_read_holds_the_node_back() {
    let slots = ConsoleSlots::default();
    let (browser, b) = link();
    let (node, n) = link();
    let relay = tokio::spawn(relay(
        browser,
        terminal(&slots, node, b""),
        SLOW,
        AccessWatch::never(),
    ));
    // Nobody reads `b.rx`: the relay can hold one message in its hands and the two
    // channels one each, so the node's fourth message never gets in.
    let mut accepted = 0;
    for _ in 0..100 {
        let frame = Payload::Binary(vec![b'x'; 64 << 10]);
        match tokio::time::timeout(Duration::from_millis(50), n.tx.send(frame)).await {
            Ok(Ok(())) => accepted += 1,
            _ => break,
        }
    }
    assert!(
        accepted <= 3,
        "{accepted} frames of 64 KiB taken without a reader"
    );
    relay.abort();
    let _ = relay.await;
    assert_eq!(slots.open(), 0, "a cancelled relay frees its slot too");
    drop(b);
}
