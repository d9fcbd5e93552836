//! `RequireRole`: renders its children for users with at least a role, sends signed-out
//! visitors to the login page (302 during SSR), and shows 403 to everyone else. The server
//! functions behind the page check again: this guard is for people, not for security.
//!
//! **Make a page's resources above the guard, never in its children.** While the server
//! renders, the guard's children may be built two or three times (the `Suspend` around them
//! runs more than once; seen with log lines, one page build and three of its children): every
//! build makes its resources anew, each with the next hydration id, and the earlier builds
//! are dropped. The browser
//! builds the children once and reads the *first* id's answer, which a dropped build fetched
//! after its owner, and with it the request's context, was gone: an `Err`, while the HTML
//! showed the later build's `Ok`. Hydration then fails on the mismatch (a wasm panic). So
//! each page makes its actions and resources in its own body, which runs once, and the
//! children only read them (`server/tests/http.rs` checks the guarded pages' data).

use super::{ForbiddenPage, ServerErrorPage, login_url};
use crate::AppError;
use crate::auth::use_auth;
use lab::model::Role;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

#[component]
pub fn RequireRole(role: Role, children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match auth.me.await {
                        Ok(Some(me)) if me.role.includes(role) => children().into_any(),
                        Ok(Some(_)) => view! { <ForbiddenPage /> }.into_any(),
                        Ok(None) | Err(AppError::Unauthenticated) => {
                            let search = location.search.get_untracked();
                            let sep = if search.is_empty() || search.starts_with('?') { "" } else { "?" };
                            let here =
                                format!("{}{sep}{search}", location.pathname.get_untracked());
                            view! { <Redirect path=login_url(&here) /> }.into_any()
                        }
                        Err(e) => view! { <ServerErrorPage message=e.to_string() /> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}
