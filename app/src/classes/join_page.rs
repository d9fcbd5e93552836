//! The invite page `/join/<token>`: a signed-out visitor is sent to sign in (or create an
//! account) and comes back here; then one click gives them a VM of the class, or, when the
//! class is full, a place on its waiting list.

use super::{JoinClass, load_invite};
use crate::layout::{FormError, RequireRole, action_error};
use crate::waitlist::WaitForVm;
use lab::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn JoinPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|p| p.get("token").unwrap_or_default());
    let view_data = Resource::new(token, load_invite);
    let join = ServerAction::<JoinClass>::new();
    let wait = ServerAction::<WaitForVm>::new();
    let error = Signal::derive({
        let errors = [action_error(join), action_error(wait)];
        move || errors.iter().find_map(|e| e.get())
    });
    view! {
        <Title text="Join a class" />
        <RequireRole role=Role::Student>
            <section class="card narrow">
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match view_data.await {
                            Ok(v) => view! {
                                <h1>{format!("Join {}", v.class_name)}</h1>
                                <p>{format!("Teacher: {}", v.teacher)}</p>
                                {if v.already_joined {
                                    view! { <p>"You are in this class already. " <a href="/">"Go to your VMs"</a></p> }.into_any()
                                } else if v.free_vms == 0 && v.deploying {
                                    view! { <p class="notice" role="status">"The class's VMs are still being made. Reload this page in a minute."</p> }.into_any()
                                } else if let Some(place) = v.place {
                                    view! { <p role="status" id="waiting-place">{format!("You are number {place} on the waiting list. You get the next VM that becomes free; it appears on your dashboard.")}" " <a href="/">"Go to your VMs"</a></p> }.into_any()
                                } else if v.free_vms == 0 {
                                    view! {
                                        <p role="status">{match v.waiting {
                                            0 => "This class is full: every VM has a student.".to_string(),
                                            n => format!("This class is full: every VM has a student, and {n} waiting."),
                                        }}</p>
                                        <p class="muted">"Join the waiting list and you get the next VM that becomes free or that your teacher adds."</p>
                                        <ActionForm action=wait>
                                            <input type="hidden" name="token" value=token() />
                                            <button type="submit" class="primary" id="join-waitlist">"Join the waiting list"</button>
                                        </ActionForm>
                                    }.into_any()
                                } else {
                                    view! {
                                        <ActionForm action=join>
                                            <input type="hidden" name="token" value=token() />
                                            <button type="submit" class="primary" id="join-class">"Join and get my VM"</button>
                                        </ActionForm>
                                    }.into_any()
                                }}
                            }.into_any(),
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Suspense>
                <FormError message=error />
            </section>
        </RequireRole>
    }
}
