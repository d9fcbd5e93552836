//! `/classes/:id/about`: the class as its students see it: what it is about, who teaches
//! it, their VM (with a link to its snapshots when the class allows them) and the rules that
//! apply to them. Read-only; its teachers see it too, with a link to the teacher page.

use super::load_class_about;
use crate::ids;
use crate::layout::RequireRole;
use crate::snapshots::snapshots_url;
use lab::model::{ClassAbout, Role};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ClassAboutPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i32>().ok()));
    let about = Resource::new(id, |id| async move {
        match id {
            Some(id) => load_class_about(id).await,
            None => Err(crate::AppError::NotFound("That class".into())),
        }
    });
    view! {
        <Title text="Class" />
        <RequireRole role=Role::Student>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match about.await {
                        Ok(a) => view! { <Body a /> }.into_any(),
                        Err(e) => {
                            #[cfg(feature = "ssr")]
                            crate::session::set_page_status(e.status());
                            let text = match e {
                                crate::AppError::NotFound(_) | crate::AppError::Forbidden => "You are not in this class, or it does not exist.".to_string(),
                                other => other.to_string(),
                            };
                            view! {
                                <section class="card" id="class-about-refused">
                                    <h1>"No class"</h1>
                                    <p>{text}</p>
                                    <p><a href=ids::ROUTE_HOME>"Back to your VMs"</a></p>
                                </section>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </RequireRole>
    }
}

#[component]
fn Body(a: ClassAbout) -> impl IntoView {
    let snapshots = match a.student_snapshots {
        0 => "Snapshots: not allowed in this class.".to_string(),
        n => format!("Snapshots: you may keep up to {n} of your VM."),
    };
    let ssh = if a.ssh_enabled {
        "SSH through the portal: on (an SSH button on your VM's card)."
    } else {
        "SSH through the portal: off."
    };
    let allowed = a.student_snapshots > 0;
    view! {
        <div class="page-head">
            <h1>{a.name.clone()}</h1>
            {a.manager.then(|| view! { <a class="button small" href=format!("{}/{}", ids::ROUTE_CLASSES, a.id)>"Teacher page"</a> })}
        </div>
        <p class="muted" id="class-teachers">{format!("Taught by {}", a.teachers.join(", "))}</p>
        {(!a.description.is_empty()).then(|| view! {
            <section class="card class-description"><p>{a.description.clone()}</p></section>
        })}
        <section class="card" id="class-my-vms">
            <h2>"Your VM"</h2>
            {if a.vms.is_empty() {
                view! { <p class="empty">"You have no VM in this class."</p> }.into_any()
            } else {
                view! {
                    <ul class="plain">
                        {a.vms.iter().cloned().map(|(cluster_id, vmid, name)| view! {
                            <li>
                                <a href=format!("{}#vm-{cluster_id}-{vmid}", ids::ROUTE_HOME)>{name}</a>
                                {allowed.then(|| view! { " · " <a href=snapshots_url(cluster_id, vmid)>"Snapshots"</a> })}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section class="card" id="class-rules">
            <h2>"Rules for your VM"</h2>
            <ul>
                {a.rules.iter().cloned().map(|r| view! { <li>{r}</li> }).collect_view()}
                <li>{snapshots}</li>
                <li>{ssh}</li>
            </ul>
        </section>
    }
}
