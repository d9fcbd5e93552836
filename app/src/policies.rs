//! Lab policies in the UI: the class page's Policies section, the admin's site defaults,
//! and what students see (a warning banner with "I'm still here", their hours on the card).
//! The console and terminal tabs show the same banner through `public/notice.js`.

mod api;
mod form;
mod notice;
mod panel;
mod site_page;

pub use api::*;
pub use notice::{NoticeBanner, TabNotice, UsageLines};
pub use panel::{PanelState, PoliciesPanel};
pub use site_page::SitePoliciesPage;
