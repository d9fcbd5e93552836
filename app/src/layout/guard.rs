//! `RequireRole`: renders its children for users with at least a role, sends signed-out
//! visitors to the login page (302 during SSR), and shows 403 to everyone else. The server
//! functions behind the page check again: this guard is for people, not for security.

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
