//! The portal page. It lists the user's VMs once clusters and classes exist; until then it
//! says plainly how a student gets one.

use crate::auth::use_auth;
use crate::layout::RequireRole;
use lab::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PortalPage() -> impl IntoView {
    view! {
        <Title text="Portal" />
        <RequireRole role=Role::Student>
            <Portal />
        </RequireRole>
    }
}

#[component]
fn Portal() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let name = auth.me.await.ok().flatten().map(|m| m.display_name).unwrap_or_default();
                view! { <h1>{format!("Welcome, {name}")}</h1> }
            })}
        </Suspense>
        <section class="card">
            <h2>"Your virtual machines"</h2>
            <p class="empty">
                "You have no VMs yet. When your teacher shares an invite link, open it while signed in to join the class and get your own VM."
            </p>
        </section>
    }
}
