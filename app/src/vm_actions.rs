//! The actions on one VM that several features offer: power (dashboard cards, the class
//! page, the console and terminal pages) and reset to baseline (dashboard cards, the class
//! page). They sit below those features, so none of them imports another for its buttons.
//! VM access is checked in `lab` (`lab::actions::power`, `lab::classes::request_reset`).

mod api;

pub use api::*;
