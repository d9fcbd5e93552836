//! The frame around every page (header, navigation by role, user menu), the error pages, and
//! the small pieces every form and guarded page uses.

mod error_pages;
mod form;
mod guard;
mod icons;
mod nav;
mod poll;
mod route;

pub use error_pages::{ForbiddenPage, NotFoundPage, ServerErrorPage};
pub use form::{FormError, action_error};
pub use guard::RequireRole;
pub use icons::RefreshIcon;
pub use poll::poll_while_active;
pub use route::{load_failed, vm_page_refused, vm_route};

use crate::ids;
use leptos::prelude::*;

/// Header and main area. `data-hydrated` appears once the wasm runs, so that tests (and
/// people debugging) can tell a hydrated page from a server-rendered one.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <div id="app" data-hydrated=move || hydrated.get().then_some("true")>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <nav::Header />
            <main id="main" tabindex="-1">
                {children()}
            </main>
        </div>
    }
}

/// Percent-encodes a path for use in a query string (`/login?next=…`).
pub fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where the login page sends someone who tried to open `path` while signed out.
pub fn login_url(path: &str) -> String {
    if path == ids::ROUTE_HOME || path.is_empty() {
        ids::ROUTE_LOGIN.to_owned()
    } else {
        format!("{}?next={}", ids::ROUTE_LOGIN, encode_query_value(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_paths_are_encoded() {
        assert_eq!(login_url("/"), "/login");
        assert_eq!(login_url("/admin/users"), "/login?next=/admin/users");
        assert_eq!(login_url("/a?b=c&d"), "/login?next=/a%3Fb%3Dc%26d");
    }
}
