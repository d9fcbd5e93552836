//! Revocation events: "someone may have lost access", pushed to the open console, terminal
//! and SSH relays so they end within moments instead of streaming until they idle out.
//!
//! A plain `tokio::sync::broadcast` hub in [`crate::Services`]. The code that takes access
//! away (sign-out, password change or reset, disable, delete, role change, unassigning a VM,
//! removing a class VM) publishes an event *after* its database change has committed. An
//! event is only a hint: each relay that it may concern re-checks its access in the
//! database (`console::watch`) and ends only if that check fails, so an event can never
//! end a relay that is still allowed, and a relay that misses events (the channel lagged)
//! re-checks too.
//!
//! **Several instances.** On PostgreSQL the portal also runs a bridge ([`spawn_bridge`]): each
//! event is sent to the other instances with `NOTIFY proxlab_revoked` (sqlx's `PgListener`
//! hears theirs), so a sign-out on one instance ends a console relayed by another at once. A
//! bridge that loses its connection tells its relays to re-check everything, since it cannot
//! know what it missed. `proxlab user set-password` runs only the sending half
//! ([`Bridge::SendOnly`]) and waits for it before it exits. Without a bridge (SQLite) the relays'
//! slow periodic re-check (`console::watch::RECHECK`) catches changes made by another
//! process, and a timer catches session expiry.

use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;
use std::sync::{Arc, OnceLock};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The PostgreSQL notification channel of the bridge.
const CHANNEL: &str = "proxlab_revoked";

/// Events a relay may have to react to. The hub keeps this many for slow listeners; a
/// listener that falls further behind re-checks (it cannot tell what it missed).
const CAPACITY: usize = 256;

/// What changed. Relays decide whether it concerns them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// One session ended (sign-out); the SHA-256 of its id, as in the `sessions` table.
    Session(String),
    /// A user's sessions, role, status or password changed, or the user was deleted.
    User(i32),
    /// Who may use this VM changed (unassigned, given to someone else, removed).
    Vm { cluster_id: i32, vmid: i32 },
    /// A change too broad to list (every relay re-checks).
    Everything,
}

/// The hub: cheap to clone, shared by everything in one process.
#[derive(Clone)]
pub struct Revocations {
    tx: broadcast::Sender<Revoked>,
    /// This process in the bridge's messages (its own come back to it, and are skipped).
    instance: Arc<str>,
    /// The bridge's queue to the other instances, once [`spawn_bridge`] has run.
    outbox: Arc<OnceLock<mpsc::UnboundedSender<Revoked>>>,
}

impl Default for Revocations {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
            instance: crate::token::random_token()[..12].into(),
            outbox: Default::default(),
        }
    }
}

impl Revocations {
    /// Tells every open relay, here and (with a bridge) on the other instances. Call it after
    /// the change has committed.
    pub fn publish(&self, event: Revoked) {
        tracing::debug!(?event, "access revoked");
        if let Some(outbox) = self.outbox.get() {
            // Fails only once the bridge has stopped (shutdown): nobody left to tell.
            let _ = outbox.send(event.clone());
        }
        self.deliver(event);
    }

    /// Tells this process's relays only.
    fn deliver(&self, event: Revoked) {
        // An error only means that no relay is open: nothing to tell.
        let _ = self.tx.send(event);
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Revoked> {
        self.tx.subscribe()
    }
}

/// How long a stopping sender may spend on the events still queued.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// What a process's bridge does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bridge {
    /// A portal that serves: sends its events and hears the other instances'.
    SendAndHear,
    /// A command that changes access and exits (`proxlab user set-password`): its events
    /// reach the serving instances' relays at once; it hears nothing.
    SendOnly,
}

/// Connects this hub to the other instances on the PostgreSQL behind `pool`: a task that
/// sends this process's events and, for [`Bridge::SendAndHear`], one that hears theirs. Both
/// are on `tasks` and end with `shutdown`. One bridge per hub (a second call does nothing).
pub fn spawn_bridge(
    hub: &Revocations,
    bridge: Bridge,
    pool: PgPool,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) {
    if spawn_sender(hub, pool.clone(), tasks, shutdown.clone()) && bridge == Bridge::SendAndHear {
        spawn_listener(hub, pool, tasks, shutdown);
    }
}

/// The sending half. Returns false if this hub already sends. At `shutdown` the task sends
/// what is still queued (for up to [`DRAIN`]) before it ends, so a process that waits for
/// its tasks loses nothing.
fn spawn_sender(
    hub: &Revocations,
    pool: PgPool,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> bool {
    let (outbox, mut queue) = mpsc::unbounded_channel();
    if hub.outbox.set(outbox).is_err() {
        return false; // one sender per hub
    }
    let instance = hub.instance.clone();
    tasks.spawn(async move {
        loop {
            let event = tokio::select! {
                event = queue.recv() => match event { Some(e) => e, None => return },
                () = shutdown.cancelled() => break,
            };
            send(&pool, &instance, &event).await;
        }
        let drained = tokio::time::timeout(DRAIN, async {
            while let Ok(event) = queue.try_recv() {
                send(&pool, &instance, &event).await;
            }
        });
        if drained.await.is_err() {
            tracing::warn!("revocations still queued at shutdown were not all sent");
        }
    });
    true
}

async fn send(pool: &PgPool, instance: &str, event: &Revoked) {
    let sent = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(encode(instance, event))
        .execute(pool)
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "revocation not sent to the other instances");
    }
}

/// The hearing half: delivers the other instances' events to this process's relays.
fn spawn_listener(
    hub: &Revocations,
    pool: PgPool,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) {
    let hub = hub.clone();
    tasks.spawn(async move {
        let mut listener = None;
        loop {
            let Some(heard) = listener.as_mut() else {
                match listen(&pool).await {
                    Ok(l) => listener = Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "revocations: cannot listen; retrying");
                        tokio::select! {
                            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                            () = shutdown.cancelled() => return,
                        }
                    }
                }
                continue;
            };
            let notification = tokio::select! {
                n = heard.try_recv() => n,
                () = shutdown.cancelled() => return,
            };
            match notification {
                Ok(Some(n)) => match decode(n.payload()) {
                    Some((from, event)) if from != &*hub.instance => hub.deliver(event),
                    Some(_) => {} // our own, already delivered
                    None => tracing::warn!(payload = n.payload(), "revocations: unreadable"),
                },
                // The connection dropped (it reconnects at the next call): what was sent
                // meanwhile is lost, so every relay re-checks.
                Ok(None) => hub.deliver(Revoked::Everything),
                Err(e) => {
                    tracing::warn!(error = %e, "revocations: listening failed");
                    listener = None;
                    hub.deliver(Revoked::Everything);
                }
            }
        }
    });
}

async fn listen(pool: &PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// `<instance> <kind> <fields…>`, space-separated (a session's hash is hex; the rest are
/// numbers).
fn encode(instance: &str, event: &Revoked) -> String {
    match event {
        Revoked::Session(hash) => format!("{instance} session {hash}"),
        Revoked::User(id) => format!("{instance} user {id}"),
        Revoked::Vm { cluster_id, vmid } => format!("{instance} vm {cluster_id} {vmid}"),
        Revoked::Everything => format!("{instance} everything"),
    }
}

fn decode(payload: &str) -> Option<(&str, Revoked)> {
    let mut words = payload.split(' ');
    let instance = words.next()?;
    let event = match (words.next()?, words.next(), words.next()) {
        ("session", Some(hash), None) => Revoked::Session(hash.to_owned()),
        ("user", Some(id), None) => Revoked::User(id.parse().ok()?),
        ("vm", Some(cluster), Some(vmid)) => Revoked::Vm {
            cluster_id: cluster.parse().ok()?,
            vmid: vmid.parse().ok()?,
        },
        ("everything", None, None) => Revoked::Everything,
        _ => return None,
    };
    words.next().is_none().then_some((instance, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_cross_to_other_instances_as_they_are() {
        let events = [
            Revoked::Session("9f86d081884c7d65".into()),
            Revoked::User(42),
            Revoked::Vm {
                cluster_id: 3,
                vmid: 1203,
            },
            Revoked::Everything,
        ];
        for event in events {
            let payload = encode("abc", &event);
            assert_eq!(decode(&payload), Some(("abc", event)), "{payload}");
        }
        for bad in [
            "",
            "abc",
            "abc user",
            "abc user x",
            "abc vm 1",
            "abc nothing",
            "abc user 1 2",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn listeners_hear_events_published_after_they_subscribe() {
        let hub = Revocations::default();
        hub.publish(Revoked::User(1)); // nobody listens: not an error
        let mut rx = hub.subscribe();
        hub.publish(Revoked::Vm {
            cluster_id: 1,
            vmid: 100,
        });
        assert_eq!(
            rx.recv().await.unwrap(),
            Revoked::Vm {
                cluster_id: 1,
                vmid: 100
            }
        );
        assert!(rx.try_recv().is_err());
    }
}
