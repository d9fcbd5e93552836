//! Form error display that works with and without JavaScript. After a hydrated submission the
//! error is the action's value. After a plain HTML post the server redirects back with the
//! error in the URL (`__path`, `__err`). The router hands that to actions created inside
//! `<Routes>`, but the account actions live above it (the header needs them), so the URL is
//! read here for every action alike.

use crate::{AppError, ids};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos::server_fn::error::ServerFnUrlError;
use leptos_router::hooks::use_query_map;

/// The message of the last failed submission of `action`, if any.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<String>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    let query = use_query_map();
    Signal::derive(move || {
        let submitted = action.value().with(|v| match v {
            Some(Err(e)) => Some(Some(e.to_string())),
            Some(Ok(_)) => Some(None),
            None => None,
        });
        submitted.unwrap_or_else(|| {
            query.with(|q| {
                let err = q
                    .get_str("__err")
                    .filter(|_| q.get_str("__path") == Some(S::PATH))?;
                Some(ServerFnUrlError::<AppError>::decode_err(err).to_string())
            })
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
