//! Backing off after Proxmox refused the portal's own credentials.
//!
//! A wrong token or password fails every call the same way, and each attempt is an
//! authentication failure in the node's log (which fail2ban may be watching). So after a
//! refusal the client waits before it shows the credentials to Proxmox again: 5 s, then twice
//! as long after each further refusal, at most 15 minutes. Calls in between fail at once with
//! the same error, saying when the next try is. A success resets it; so does changing the
//! cluster's settings, which builds a new client. Only the portal's own identity counts here:
//! a user's wrong password in a realm sign-in is not ours to back off from.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

use super::error::Error;

/// The first pause after a refusal.
const FIRST: Duration = Duration::from_secs(5);
/// The longest pause.
const LONGEST: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub(super) struct CredentialBackoff(Mutex<State>);

#[derive(Default)]
struct State {
    refusals: u32,
    until: Option<Instant>,
    reason: String,
}

impl CredentialBackoff {
    /// `Err` while a pause after a refusal lasts.
    pub(super) fn check(&self) -> Result<(), Error> {
        let state = self.0.lock().expect("backoff poisoned");
        match state.until {
            Some(until) if until > Instant::now() => {
                // Round up: "in 0 s" would read as "now".
                let left = until.saturating_duration_since(Instant::now());
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                Err(Error::Unauthorized(format!(
                    "{} (refused {} time(s) in a row; the portal tries again in {secs} s)",
                    state.reason, state.refusals
                )))
            }
            _ => Ok(()),
        }
    }

    /// Proxmox refused our credentials: pause before the next try.
    pub(super) fn refused(&self, reason: &str) {
        let mut state = self.0.lock().expect("backoff poisoned");
        state.refusals = state.refusals.saturating_add(1);
        let pause = FIRST
            .saturating_mul(1 << (state.refusals - 1).min(16))
            .min(LONGEST);
        state.until = Some(Instant::now() + pause);
        state.reason = reason.to_owned();
        tracing::warn!(
            refusals = state.refusals,
            pause_secs = pause.as_secs(),
            %reason,
            "Proxmox refused the portal's credentials; backing off"
        );
    }

    /// Our credentials worked.
    pub(super) fn accepted(&self) {
        let mut state = self.0.lock().expect("backoff poisoned");
        if state.refusals > 0 {
            *state = State::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pauses_double_and_reset_on_success() {
        let b = CredentialBackoff::default();
        assert!(b.check().is_ok());
        b.refused("authentication failure");
        let err = b.check().expect_err("paused");
        assert!(err.to_string().contains("tries again in 5 s"), "{err}");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(b.check().is_ok(), "after 5 s one try is allowed");
        b.refused("authentication failure");
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(b.check().is_err(), "the second pause is 10 s");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.check().is_ok());
        for _ in 0..20 {
            b.refused("x");
        }
        tokio::time::advance(LONGEST).await;
        assert!(b.check().is_ok(), "never longer than 15 minutes");
        b.refused("x");
        b.accepted();
        assert!(b.check().is_ok(), "a success resets it");
    }
}
