//! Self-registration: anyone may create a student account while an admin keeps it open.

use crate::auth::{registration_open, use_auth};
use crate::ids;
use crate::layout::{FormError, action_error};
use lab::model::MIN_PASSWORD_LEN;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let auth = use_auth();
    let error = action_error(auth.register);
    let open = Resource::new(|| (), |_| registration_open());
    let query = leptos_router::hooks::use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    view! {
        <Title text="Create an account" />
        <section class="card narrow">
            <h1>"Create an account"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    if open.await.unwrap_or(false) {
                        view! {
                            <p class="muted">"Student accounts can join classes with an invite link from their teacher."</p>
                            <ActionForm action=auth.register>
                                <input type="hidden" name="next" value=next />
                                <NewAccountFields username_label="Username" />
                                <FormError message=error />
                                <button type="submit" class="primary">"Create account"</button>
                            </ActionForm>
                        }.into_any()
                    } else {
                        view! {
                            <p>"Self-registration is closed. Ask your teacher or an admin for an account."</p>
                        }.into_any()
                    }
                })}
            </Suspense>
            <p class="muted">"Already have an account? " <a href=ids::ROUTE_LOGIN>"Sign in"</a></p>
        </section>
    }
}

/// Username, name, password and its confirmation: the fields of a new account.
#[component]
pub fn NewAccountFields(username_label: &'static str) -> impl IntoView {
    view! {
        <label for="username">{username_label}</label>
        <input id="username" name="username" autocomplete="username" required
            maxlength="32" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*"
            aria-describedby="username-help" />
        <p id="username-help" class="help">"Letters, digits, '.', '-' and '_'."</p>
        <label for="display_name">"Your name"</label>
        <input id="display_name" name="display_name" autocomplete="name" maxlength="80" />
        <PasswordPair />
    }
}

/// A new password and its confirmation (`password`, `password_confirm`).
#[component]
pub fn PasswordPair(
    #[prop(default = "password")] name: &'static str,
    #[prop(default = "Password")] label: &'static str,
) -> impl IntoView {
    let confirm = format!("{name}_confirm");
    view! {
        <label for=name>{label}</label>
        <input id=name name=name type="password" autocomplete="new-password" required
            minlength=MIN_PASSWORD_LEN maxlength="256" aria-describedby=format!("{name}-help") />
        <p id=format!("{name}-help") class="help">{format!("At least {MIN_PASSWORD_LEN} characters.")}</p>
        <label for=confirm.clone()>"Repeat it"</label>
        <input id=confirm.clone() name=confirm type="password" autocomplete="new-password" required
            maxlength="256" />
    }
}
