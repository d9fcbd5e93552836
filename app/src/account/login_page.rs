//! The login page. Local accounts only for now; `name@realm` Proxmox logins come with clusters.

use crate::auth::{registration_open, use_auth};
use crate::ids;
use crate::layout::{FormError, action_error};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    let error = action_error(auth.login);
    let open = Resource::new(|| (), |_| registration_open());
    view! {
        <Title text="Sign in" />
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=auth.login>
                <input type="hidden" name="next" value=next />
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" required autofocus
                    placeholder="e.g. teacher1" maxlength="64" />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password"
                    required maxlength="256" />
                <FormError message=error />
                <button type="submit" class="primary">"Sign in"</button>
            </ActionForm>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    open.await.unwrap_or(false).then(|| view! {
                        <p class="muted">
                            "No account yet? " <a href=move || register_link(&next())>"Create one"</a>
                        </p>
                    })
                })}
            </Suspense>
        </section>
    }
}

/// The registration link keeps where the visitor was going (an invite link).
fn register_link(next: &str) -> String {
    if next.is_empty() {
        ids::ROUTE_REGISTER.to_owned()
    } else {
        let q: String = url_escape(next);
        format!("{}?next={q}", ids::ROUTE_REGISTER)
    }
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
