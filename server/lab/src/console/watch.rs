//! Ending open relays when access goes: each console, terminal and SSH relay holds an
//! [`AccessWatch`] and runs until [`AccessWatch::revoked`] resolves (then it closes the
//! browser's socket with [`super::Closing::Revoked`]).
//!
//! Access is what let the relay open: the session (live, not expired), its user (enabled)
//! and the VM (usable by that user, by [`crate::inventory::usable_vm`]'s rule, which also
//! covers role changes and class membership). The watch re-checks all three in the
//! database, never per frame, only when:
//!
//! * an event from [`crate::revocation`] may concern it (its session, its user, its VM, or
//!   everything), or the channel lagged and it cannot tell what it missed;
//! * the session's `expires_at` passes (re-read on each check, since use slides it);
//! * [`RECHECK`] passed since the last check. Events are in-process only, so this is what
//!   catches changes made by another portal instance on the same database, or by the
//!   `proxlab user` command: they reach open relays within that time.
//!
//! Each check that finds access also marks the VM active for the idle policy
//! (`policies::gate::touch`): an open tab keeps its VM from an idle shutdown.
//!
//! The relay ends only when a check says access is gone, so an event about something else
//! costs a few queries and nothing more. A database error keeps the relay and tries again
//! at the next [`RECHECK`] (a locked SQLite file should not close everyone's consoles).

use super::link::Closing;
use crate::auth::Session;
use crate::clock::now;
use crate::db::entity::{session, user};
use crate::inventory::usable_vm;
use crate::revocation::Revoked;
use crate::token::hash_token;
use crate::{Error, Result, Services};
use sea_orm::EntityTrait;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

/// The slow re-check that catches changes no event announced.
pub const RECHECK: Duration = Duration::from_secs(30);

/// What one relay was opened with, and the events that may take it away.
pub struct AccessWatch {
    services: Services,
    user_id: i32,
    /// The session's id hash (the `sessions` key).
    session: String,
    cluster_id: i32,
    vmid: i32,
    expires_at: i64,
    events: broadcast::Receiver<Revoked>,
    recheck: Duration,
    /// The first check comes at once: it covers a change between the session's lookup and
    /// [`AccessWatch::new`].
    checked: bool,
}

impl AccessWatch {
    /// Starts listening. Make it *before* checking access to open the relay, so that nothing
    /// published between that check and the relay's start is missed.
    pub fn new(services: &Services, session: &Session, cluster_id: i32, vmid: i32) -> Self {
        Self {
            services: services.clone(),
            user_id: session.user.id,
            session: hash_token(&session.token),
            cluster_id,
            vmid,
            expires_at: session.expires_at,
            events: services.revocations.subscribe(),
            recheck: RECHECK,
            checked: false,
        }
    }

    /// Another period for the slow re-check (tests; the default is [`RECHECK`]).
    pub fn recheck_every(mut self, every: Duration) -> Self {
        self.recheck = every;
        self
    }

    /// Resolves once access is gone; pending for as long as it lasts. Cancel-safe between
    /// checks, but a relay should keep one future for its whole life (`run`), so that a
    /// busy relay cannot keep interrupting a check.
    pub async fn revoked(&mut self) {
        loop {
            let deadline = self.next_check();
            let check = tokio::select! {
                event = self.events.recv() => match event {
                    Ok(event) => self.concerns(&event),
                    Err(RecvError::Lagged(_)) => true,
                    // Cannot happen while `services` holds the sender; listen again.
                    Err(RecvError::Closed) => {
                        self.events = self.services.revocations.subscribe();
                        true
                    }
                },
                () = tokio::time::sleep_until(deadline) => true,
            };
            if !check {
                continue;
            }
            let allowed = self.allowed().await;
            self.checked = true;
            match allowed {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, vmid = self.vmid, "console access re-check"),
            }
        }
    }

    /// Runs `work` (a relay) until it ends, or until access is gone or the portal shuts
    /// down: then the reason to give the browser, and `work` is dropped (which closes what
    /// it held).
    pub async fn run<T>(&mut self, work: impl Future<Output = T>) -> Result<T, Closing> {
        let shutdown = self.services.shutdown.clone();
        tokio::select! {
            done = work => Ok(done),
            () = self.revoked() => Err(Closing::Revoked),
            () = shutdown.cancelled() => Err(Closing::ShuttingDown),
        }
    }

    fn concerns(&self, event: &Revoked) -> bool {
        match event {
            Revoked::Session(id_hash) => *id_hash == self.session,
            Revoked::User(id) => *id == self.user_id,
            Revoked::Vm { cluster_id, vmid } => {
                (*cluster_id, *vmid) == (self.cluster_id, self.vmid)
            }
            Revoked::Everything => true,
        }
    }

    /// The next periodic re-check, or the session's end if that comes first. (The timer
    /// restarts after every check, which is what "not checked for a while" means.)
    fn next_check(&self) -> Instant {
        if !self.checked {
            return Instant::now();
        }
        let until_end = UNIX_EPOCH
            .checked_add(Duration::from_secs(self.expires_at.max(0) as u64))
            .map_or(self.recheck, |end| {
                end.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            });
        Instant::now() + self.recheck.min(until_end)
    }

    /// The session is live, its user enabled, the VM still theirs to use.
    async fn allowed(&mut self) -> Result<bool> {
        let db = &self.services.db;
        let Some(row) = session::Entity::find_by_id(self.session.clone())
            .one(db)
            .await?
        else {
            return Ok(false);
        };
        if row.user_id != self.user_id || row.expires_at <= now() {
            return Ok(false);
        }
        self.expires_at = row.expires_at;
        let Some(user) = user::Entity::find_by_id(self.user_id).one(db).await? else {
            return Ok(false);
        };
        if user.disabled {
            return Ok(false);
        }
        match usable_vm(&self.services, &user, self.cluster_id, self.vmid).await {
            Ok(_) => {
                // An open tab keeps its VM active for the idle policy (and connects its
                // student, for quota), at every check: at once and every `RECHECK`.
                let touched = crate::policies::gate::touch(
                    &self.services,
                    self.user_id,
                    self.cluster_id,
                    self.vmid,
                );
                if let Err(e) = touched.await {
                    tracing::warn!(error = %e, vmid = self.vmid, "cannot mark the VM active");
                }
                Ok(true)
            }
            Err(Error::NotFound(_) | Error::Forbidden | Error::Invalid(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
impl AccessWatch {
    /// A watch that never fires (no database, nothing published, no deadline): for the
    /// relays' unit tests, which are about framing and clocks.
    pub(crate) fn never() -> Self {
        let services = Services::new(
            Default::default(),
            Default::default(),
            crate::secrets::SecretBox::ephemeral(),
        );
        Self {
            events: services.revocations.subscribe(),
            services,
            user_id: 0,
            session: String::new(),
            cluster_id: 0,
            vmid: 0,
            expires_at: i64::MAX,
            recheck: Duration::from_secs(100 * 365 * 24 * 3600),
            checked: true,
        }
    }
}
