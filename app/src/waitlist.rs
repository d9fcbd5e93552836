//! Waiting lists in the UI: the join page's "Join the waiting list" (on a full class), and
//! the dashboard's notice of each list the student is on, with their place and "Leave". A
//! VM given to them later simply appears on the dashboard. Below the features that show it
//! (classes' join page, the dashboard); `lab::waitlist` keeps the order.

use crate::AppError;
#[cfg(feature = "ssr")]
use crate::session::{require, services};
#[cfg(feature = "ssr")]
use lab::model::Role;
use leptos::prelude::*;

/// Puts the student on the invited (full) class's waiting list; the dashboard then shows
/// their place, or the VM if one was free after all.
#[server(endpoint = "join/wait")]
pub async fn wait_for_vm(token: String) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    let place = lab::classes::wait(&services()?, &s.user, &token).await?;
    tracing::info!(user = %s.user.username, ?place, "joined a waiting list");
    leptos_axum::redirect("/");
    Ok(())
}

/// Leaves a class's waiting list.
#[server(endpoint = "join/leave")]
pub async fn leave_waitlist(id: i32) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    Ok(lab::waitlist::leave(&services()?, &s.user, id).await?)
}

/// A waiting list the signed-in user is on: (class id, class name, place).
pub type WaitingPlace = (i32, String, u32);

#[server(endpoint = "join/waiting")]
pub async fn my_waiting() -> Result<Vec<WaitingPlace>, AppError> {
    let s = require(Role::Student).await?;
    Ok(lab::waitlist::places(&services()?, s.user.id).await?)
}

/// One notice per waiting list the user is on. The dashboard makes `lists` (re-read when its
/// poller sees a change: a VM given to them bumps their counter, and when they leave one).
#[component]
pub fn WaitingLists(
    lists: Resource<Result<Vec<WaitingPlace>, AppError>>,
    leave: ServerAction<LeaveWaitlist>,
) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let lists = lists.await.unwrap_or_default();
                lists.into_iter().map(|(id, name, place)| view! {
                    <section class="card notice waiting" data-class=id role="status">
                        <p>{format!("You are number {place} on the waiting list of {name}. A VM appears here as soon as one is free.")}</p>
                        <ActionForm action=leave attr:class="inline">
                            <input type="hidden" name="id" value=id />
                            <button type="submit" class="small">"Leave the waiting list"</button>
                        </ActionForm>
                    </section>
                }).collect_view()
            })}
        </Transition>
    }
}
