//! Admin → Policies: the site's default policies, which every class without its own follows,
//! and the site's time zone (a class may name its own).

use super::form::PolicyFields;
use super::{SaveSitePolicies, site_policies};
use crate::layout::{FormError, RequireRole, action_error};
use lab::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SitePoliciesPage() -> impl IntoView {
    let save = ServerAction::<SaveSitePolicies>::new();
    let data = Resource::new(move || save.version().get(), |_| site_policies());
    let error = action_error(save);
    let saved = move || save.value().get().is_some_and(|r| r.is_ok());
    view! {
        <Title text="Policies" />
        <RequireRole role=Role::Admin>
            <div class="page-head"><h1>"Policies"</h1></div>
            <p class="muted">"Defaults for every class that has no policies of its own. Teachers change their class's on its page."</p>
            <FormError message=error />
            {move || saved().then(|| view! { <p class="notice" role="status" id=crate::ids::FORM_NOTICE>"Saved."</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok((form, zone)) => view! {
                            <section class="card policies">
                                <ActionForm action=save attr:id="site-policy-form">
                                    <PolicyFields form zone_hint=zone />
                                    <button type="submit" id="save-site-policies">"Save defaults"</button>
                                </ActionForm>
                            </section>
                        }.into_any(),
                        Err(e) => crate::layout::load_failed(e),
                    }
                })}
            </Transition>
        </RequireRole>
    }
}
