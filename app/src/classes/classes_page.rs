//! The class list: teachers see the classes they own or co-own (admins all), with a link
//! to the wizard.

use super::list_classes;
use crate::layout::RequireRole;
use lab::model::{ClassSummary, Role};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ClassesPage() -> impl IntoView {
    let classes = Resource::new(|| (), |_| list_classes());
    view! {
        <Title text="Classes" />
        <RequireRole role=Role::Teacher>
            <div class="page-head">
                <h1>"Classes"</h1>
                <a class="button primary" href="/classes/new" id="new-class">"New class"</a>
            </div>
            <section class="card">
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match classes.await {
                            Ok(list) if list.is_empty() => view! {
                                <p class="empty">"No classes yet. A class gives each student their own copy of a template VM: start with New class."</p>
                            }.into_any(),
                            Ok(list) => view! { <ClassTable list /> }.into_any(),
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </RequireRole>
    }
}

#[component]
fn ClassTable(list: Vec<ClassSummary>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|c| {
            view! {
                <tr data-class=c.name.clone()>
                    <td><a href=format!("/classes/{}", c.id)>{c.name.clone()}</a></td>
                    <td>{c.template.clone().unwrap_or_else(|| "empty VMs".into())}</td>
                    <td>{format!("{}–{}", c.vmid_base, c.vmid_base + 99)}</td>
                    <td>{format!("{} / {}", c.enrolled, c.students)}</td>
                    <td>{c.owner.clone()}</td>
                    <td class="class-state">{c.state.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data" id="classes-table">
            <thead><tr><th>"Class"</th><th>"Template"</th><th>"VMIDs"</th><th>"Students"</th><th>"Teacher"</th><th>"State"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
