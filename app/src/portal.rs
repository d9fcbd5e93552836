//! The portal: where everyone lands after signing in.

mod portal_page;

pub use portal_page::PortalPage;
