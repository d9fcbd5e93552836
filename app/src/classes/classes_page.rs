//! The class list: teachers see the classes they own or co-own (admins all), with a link
//! to the wizard.

use super::{ImportClass, WizardLists, adoption_candidates, list_classes, wizard_choices};
use crate::AppError;
use crate::auth::use_auth;
use crate::layout::{FormError, RequireRole, action_error};
use lab::model::{AdoptionCandidate, ClassSummary, Role};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ClassesPage() -> impl IntoView {
    let classes = Resource::new(|| (), |_| list_classes());
    // The import form's: teachers get "forbidden" from both and see nothing.
    let import = ServerAction::<ImportClass>::new();
    let choices = Resource::new(|| (), |_| wizard_choices());
    let candidates = Resource::new(|| (), |_| adoption_candidates());
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
            <ImportForm import choices candidates />
        </RequireRole>
    }
}

/// Admins: adopt a class made elsewhere from its VMID block.
#[component]
fn ImportForm(
    import: ServerAction<ImportClass>,
    choices: Resource<Result<WizardLists, AppError>>,
    candidates: Resource<Result<Vec<AdoptionCandidate>, AppError>>,
) -> impl IntoView {
    let auth = use_auth();
    let error = action_error(import);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let admin = auth.me.await.ok().flatten().is_some_and(|m| m.role == Role::Admin);
                let clusters = choices.await.map(|(_, c)| c).unwrap_or_default();
                let found = candidates.await.unwrap_or_default();
                if !admin {
                    return ().into_any();
                }
                view! {
                    {(!found.is_empty()).then(|| view! {
                        <section class="card" id="adoption">
                            <h2>"VMs that look like a class"</h2>
                            <p class="muted">"These VMID blocks have a class base (a template at P99) and student VMs, but no class here: made by the old portal, or by hand. Import one to manage it as a class."</p>
                            <ul class="plain">
                                {found.into_iter().map(|c| view! {
                                    <li class="adoption" data-block=c.vmid_base>
                                        <p>{format!(
                                            "{} · VMIDs {}–{} · {} student VM(s){} · base {}",
                                            c.cluster, c.vmid_base, c.vmid_base + 99, c.students,
                                            if c.teacher_vm { ", a teacher's VM" } else { "" }, c.base
                                        )}</p>
                                        <ActionForm action=import attr:class="inline">
                                            <input type="hidden" name="cluster_id" value=c.cluster_id />
                                            <input type="hidden" name="vmid_base" value=c.vmid_base />
                                            <label>"Name" <input name="name" required maxlength="80" value=c.name_guess.clone() /></label>
                                            <label>"Teacher" <input name="teacher" required size="12" placeholder="username" /></label>
                                            <button type="submit">"Import"</button>
                                        </ActionForm>
                                    </li>
                                }).collect_view()}
                            </ul>
                        </section>
                    })}
                    <section class="card">
                        <h2>"Import a class"</h2>
                        <p class="muted">"Adopt VMs made elsewhere: a block of 100 VMIDs with the teacher's VM at P00, students at P01–P98 and the class base at P99."</p>
                        <ActionForm action=import attr:class="stacked" attr:id="import-class">
                            <label>"Cluster" <select name="cluster_id">{clusters.into_iter().map(|(id, name, _)| view! { <option value=id>{name}</option> }).collect_view()}</select></label>
                            <label>"First VMID of the block (P00)" <input name="vmid_base" type="number" min="100" step="100" required /></label>
                            <label>"Class name" <input name="name" required maxlength="80" /></label>
                            <label>"Teacher (username)" <input name="teacher" required /></label>
                            <FormError message=error />
                            <button type="submit">"Import"</button>
                        </ActionForm>
                    </section>
                }.into_any()
            })}
        </Suspense>
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
