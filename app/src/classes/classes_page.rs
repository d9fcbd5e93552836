//! The teacher's class list.

use crate::layout::RequireRole;
use lab::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ClassesPage() -> impl IntoView {
    view! {
        <Title text="Classes" />
        <RequireRole role=Role::Teacher>
            <h1>"Classes"</h1>
            <section class="card">
                <p class="empty">
                    "No classes yet. Classes are built from a template VM on a Proxmox cluster, so an admin connects a cluster first."
                </p>
            </section>
        </RequireRole>
    }
}
