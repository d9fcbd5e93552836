//! Fault injection for tests: a hook the engine calls at every crash point (before each
//! database write and each node command of a job), which may let the job go on, crash the
//! runner right there, or stall it past its lease. Production runs with no hook (one `None`
//! check per point).
//!
//! A crash is a panic: nothing after the point runs (no cleanup, no error handling, no lease
//! release), which is what a killed process leaves behind; the worker catches it the way the
//! next process start would find it: a job with a lease that runs out.

use std::sync::Arc;
use std::time::Duration;

/// Where a job is when it reaches a crash point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultPoint {
    pub job_id: i32,
    /// The VM the step is about, if it is about one.
    pub vmid: Option<i32>,
    /// What comes next (`"vm ready"`, `"make vm"`, …).
    pub label: &'static str,
    /// A database write comes next (else a node command or Proxmox call).
    pub write: bool,
}

/// What the hook wants done at a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    Go,
    /// The runner dies here.
    Crash,
    /// The runner freezes this long (its heartbeat too), as a stalled process would.
    Stall(Duration),
}

type Hook = dyn Fn(&FaultPoint) -> FaultAction + Send + Sync;

/// The hook, shared by every job a runner runs.
#[derive(Clone, Default)]
pub struct Faults(Option<Arc<Hook>>);

impl Faults {
    pub fn new(hook: impl Fn(&FaultPoint) -> FaultAction + Send + Sync + 'static) -> Faults {
        Faults(Some(Arc::new(hook)))
    }

    pub(super) fn at(&self, point: &FaultPoint) -> FaultAction {
        match &self.0 {
            Some(hook) => hook(point),
            None => FaultAction::Go,
        }
    }
}

/// The panic payload of an injected crash, so a test can tell it from a real bug.
#[derive(Debug)]
pub struct InjectedCrash(pub FaultPoint);
