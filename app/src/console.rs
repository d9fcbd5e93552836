//! The console tab: noVNC in the browser, connected to the portal's own WebSocket
//! (`/ws/console/…`, see the server's `console` module), never to Proxmox directly.

mod api;
mod console_page;

pub use api::*;
pub use console_page::ConsolePage;
