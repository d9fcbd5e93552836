//! The time, in Unix seconds (the unit of every time column). A leaf: every module that
//! stamps a row reads the clock here, so none of them needs `auth` (or anything else) for it;
//! the server functions and the CLI read it too.
//!
//! [`Clock`] is the same time with a seam for tests: the policies, the quick sync's start
//! times and the power checks read `services.clock`, which a test can move forward (with
//! pvesim's `/_sim/clock`) to run days of schedules in seconds. It is the system's time
//! everywhere else.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The system's clock, or (for tests) the system's clock moved forward by a shared offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// A clock a test moves with [`Clock::advance`]; clones move together.
    pub fn adjustable() -> Self {
        Self {
            offset: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    pub fn now(&self) -> i64 {
        now()
            + self
                .offset
                .as_ref()
                .map_or(0, |o| o.load(Ordering::Relaxed))
    }

    /// Moves an adjustable clock forward; the system's clock cannot be moved (a no-op).
    pub fn advance(&self, secs: i64) {
        if let Some(offset) = &self.offset {
            offset.fetch_add(secs, Ordering::Relaxed);
        }
    }
}
