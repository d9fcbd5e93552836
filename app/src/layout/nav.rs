//! The header: the product name, navigation by role (Portal for everyone, Classes for teachers,
//! Admin for admins) and the user menu with the logout button.

use crate::auth::use_auth;
use crate::ids;
use lab::model::{Me, Role};
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    view! {
        <header class="top">
            <a class="brand" href=ids::ROUTE_HOME>
                "Proxlab"
            </a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match auth.me.await {
                        Ok(Some(me)) => view! { <SignedIn me /> }.into_any(),
                        _ => view! { <SignedOut /> }.into_any(),
                    }
                })}
            </Transition>
        </header>
    }
}

#[component]
fn NavLink(href: &'static str, label: &'static str) -> impl IntoView {
    let location = use_location();
    let current = move || {
        let path = location.pathname.get();
        let here = if href == ids::ROUTE_HOME {
            path == href
        } else {
            path.starts_with(href)
        };
        here.then_some("page")
    };
    view! {
        <a href=href aria-current=current>
            {label}
        </a>
    }
}

#[component]
fn SignedIn(me: Me) -> impl IntoView {
    let auth = use_auth();
    view! {
        <nav aria-label="Main">
            <NavLink href=ids::ROUTE_HOME label="VMs" />
            {me.role.includes(Role::Teacher).then(|| view! { <NavLink href=ids::ROUTE_CLASSES label="Classes" /> <NavLink href=ids::ROUTE_ISOS label="ISOs" /> <NavLink href=ids::ROUTE_AUDIT label="Audit" /> })}
            {me.role.includes(Role::Admin).then(|| view! {
                <NavLink href=ids::ROUTE_ADMIN_USERS label="Users" />
                <NavLink href=ids::ROUTE_ADMIN_CLUSTERS label="Clusters" />
                <NavLink href=ids::ROUTE_ADMIN_NODES label="Nodes" />
                <NavLink href=ids::ROUTE_ADMIN_SYNC label="Sync" />
                <NavLink href=ids::ROUTE_ADMIN_JOBS label="Jobs" />
                <NavLink href=ids::ROUTE_ADMIN_POLICIES label="Policies" />
            })}
        </nav>
        <details class="user-menu" id=ids::USER_MENU>
            <summary>
                <span class="avatar" aria-hidden="true">{initial(&me.display_name)}</span>
                <span class="who">{me.display_name.clone()}</span>
            </summary>
            <div class="menu">
                <p class="muted">{format!("{} · {}", me.username, me.role)}</p>
                <a href=ids::ROUTE_PROFILE>"Profile and password"</a>
                <ActionForm action=auth.logout>
                    <button type="submit" id=ids::LOGOUT_BUTTON class="link-button">"Sign out"</button>
                </ActionForm>
            </div>
        </details>
    }
}

#[component]
fn SignedOut() -> impl IntoView {
    view! {
        <nav aria-label="Account">
            <a href=ids::ROUTE_LOGIN>"Sign in"</a>
        </nav>
    }
}

fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}
