//! First-run setup: the one-time link printed by the server creates the first admin.

use super::register_page::NewAccountFields;
use crate::auth::{setup_status, use_auth};
use crate::ids;
use crate::layout::{FormError, action_error};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SetupPage() -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    let valid = Resource::new(token, setup_status);
    let error = action_error(auth.setup);
    view! {
        <Title text="Set up Proxlab" />
        <section class="card narrow">
            <h1>"Set up Proxlab"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Checking the link…"</p> }>
                {move || Suspend::new(async move {
                    if valid.await.unwrap_or(false) {
                        view! {
                            <p>"Create the first admin account. This link works once."</p>
                            <ActionForm action=auth.setup>
                                <input type="hidden" name="token" value=token />
                                <NewAccountFields username_label="Admin username" />
                                <FormError message=error />
                                <button type="submit" class="primary">"Create admin"</button>
                            </ActionForm>
                        }.into_any()
                    } else {
                        view! {
                            <p role="alert" id=ids::FORM_ERROR class="form-error">
                                "This setup link has been used or replaced. Sign in, or, if no admin exists yet, get a new link on the server with: proxlab setup-link"
                            </p>
                            <a class="button" href=ids::ROUTE_LOGIN>"Sign in"</a>
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}
