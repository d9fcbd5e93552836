//! Proxlab's domain: everything the portal knows and does, without a web framework.
//!
//! `model` holds the wire types shared with the browser (serde only) and is the one part the
//! wasm build compiles; every module that does IO is native only. The server and the Leptos
//! server functions reach the domain through one cloneable [`Services`] handle.

pub mod model;

#[cfg(not(target_arch = "wasm32"))]
pub mod access;
#[cfg(not(target_arch = "wasm32"))]
pub mod actions;
#[cfg(not(target_arch = "wasm32"))]
pub mod activity;
#[cfg(not(target_arch = "wasm32"))]
pub mod audit;
#[cfg(not(target_arch = "wasm32"))]
pub mod auth;
#[cfg(not(target_arch = "wasm32"))]
pub mod builder;
#[cfg(not(target_arch = "wasm32"))]
pub mod capacity;
#[cfg(not(target_arch = "wasm32"))]
pub mod classes;
#[cfg(not(target_arch = "wasm32"))]
pub mod clock;
#[cfg(not(target_arch = "wasm32"))]
pub mod clusters;
#[cfg(not(target_arch = "wasm32"))]
pub mod console;
#[cfg(not(target_arch = "wasm32"))]
pub mod db;
#[cfg(not(target_arch = "wasm32"))]
mod error;
#[cfg(not(target_arch = "wasm32"))]
pub mod isos;
#[cfg(not(target_arch = "wasm32"))]
pub mod jobs;
// Wrappers around the crate-private Proxmox reply decoders for `server/lab/fuzz` only.
#[cfg(all(feature = "fuzzing", not(target_arch = "wasm32")))]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(not(target_arch = "wasm32"))]
pub mod health;
#[cfg(not(target_arch = "wasm32"))]
pub mod inventory;
#[cfg(not(target_arch = "wasm32"))]
pub mod leases;
#[cfg(not(target_arch = "wasm32"))]
pub mod metrics;
#[cfg(not(target_arch = "wasm32"))]
pub mod node;
#[cfg(not(target_arch = "wasm32"))]
pub mod policies;
#[cfg(not(target_arch = "wasm32"))]
pub mod policy_log;
#[cfg(not(target_arch = "wasm32"))]
pub mod pve;
#[cfg(not(target_arch = "wasm32"))]
pub mod revocation;
#[cfg(not(target_arch = "wasm32"))]
pub mod secrets;
#[cfg(not(target_arch = "wasm32"))]
mod services;
#[cfg(not(target_arch = "wasm32"))]
pub mod site;
#[cfg(not(target_arch = "wasm32"))]
pub mod snapshots;
#[cfg(not(target_arch = "wasm32"))]
pub mod sync;
#[cfg(not(target_arch = "wasm32"))]
mod token;
#[cfg(not(target_arch = "wasm32"))]
pub mod waitlist;

#[cfg(not(target_arch = "wasm32"))]
pub use error::{Error, Result};
#[cfg(not(target_arch = "wasm32"))]
pub use services::{AuthPolicy, DEFAULT_AUDIT_RETENTION_DAYS, Services};
