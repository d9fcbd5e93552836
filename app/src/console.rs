//! The console tab (noVNC) and the terminal tab (xterm.js), each connected to the portal's
//! own WebSocket (`/ws/console/…`, `/ws/terminal/…`; see the server's `console` and
//! `terminal` modules), never to Proxmox directly.

mod api;
mod console_page;
mod terminal_page;

pub use api::*;
pub use console_page::ConsolePage;
pub use terminal_page::{SshPage, TerminalPage};
