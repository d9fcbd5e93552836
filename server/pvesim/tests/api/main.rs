//! pvesim's integration tests: one binary (faster builds), modules by theme.

mod behaviour;
mod changes;
mod client;
mod consoles;
mod fixtures;
mod guests;
mod permissions;
mod storages;

use pvesim::{Sim, SimConfig};

/// A simulator with the fixture world on a fresh temporary root.
pub fn sim_with(tweak: Option<fn(&mut SimConfig)>) -> (tempfile::TempDir, Sim) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = SimConfig::for_tests(dir.path());
    if let Some(t) = tweak {
        t(&mut cfg);
    }
    let sim = Sim::start(cfg).expect("sim starts");
    (dir, sim)
}
