//! Lab policies: idle shutdown, access hours, usage quotas and schedules.
//!
//! ```text
//! worker     one task per instance; a lease per cluster (`lab::leases`) so one instance acts
//!   │        every `tick_secs` (30 s)
//! tick       reads the inventory, the activity samples, the stored state; writes the changes,
//!   │        the warnings and the log in one transaction; acts through `power` jobs
//! decide     the rules for one VM (pure)
//! usage      runs and totals (quota hours from the inventory's boot times)
//! schedules  occurrences, handled once each
//! calendar   local time in the class's zone (jiff's tz database, DST-safe)
//! gate       refused starts, "I'm still here", open tabs, dashboard warnings and hours
//! panel      the class page's Policies section and the admin's defaults
//! store      a class's policy or the site's defaults; the zone in force
//! ```
//!
//! The CPU and network figures come from `lab::activity`, which the quick sync fills.

pub mod calendar;
pub mod decide;
pub mod gate;
pub mod panel;
pub mod schedules;
pub mod store;
pub mod tick;
pub mod usage;
pub mod worker;

pub use worker::{PolicySettings, spawn_worker};
