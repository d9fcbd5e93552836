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
//! The hub is in-process only. Changes made by another portal instance on the same database,
//! or by the `proxlab user` command, are not published here: the relays' slow periodic
//! re-check (`console::watch::RECHECK`) catches those, and a timer catches session expiry.

use tokio::sync::broadcast;

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
}

impl Default for Revocations {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Revocations {
    /// Tells every open relay. Call it after the change has committed.
    pub fn publish(&self, event: Revoked) {
        tracing::debug!(?event, "access revoked");
        // An error only means that no relay is open: nothing to tell.
        let _ = self.tx.send(event);
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Revoked> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
