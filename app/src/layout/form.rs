//! Form error display that works with and without JavaScript. After a hydrated submission the
//! error is the action's value. After a plain HTML post the server redirects back with the
//! error in the URL (`__path`, `__err`); the router reads it from there and `ServerAction::new`
//! starts with it, as long as the action is created inside `<Router>`.

use crate::{AppError, ids};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The message of the last failed submission of `action`, if any.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<String>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    Signal::derive(move || {
        action.value().with(|v| match v {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        })
    })
}

/// Shows `message` as an alert when there is one.
#[component]
pub fn FormError(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message.get().map(|m| {
            view! { <p class="form-error" role="alert" id=ids::FORM_ERROR>{m}</p> }
        })
    }
}
