//! Reading a VM page's route parameters, and what such a page shows when it cannot be shown.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The `(:cluster, :vmid)` of a VM page's route, each `None` when missing or not a number.
pub fn vm_route() -> impl Fn() -> (Option<i32>, Option<i32>) + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || {
        params.with(|p| {
            (
                p.get("cluster").and_then(|c| c.parse::<i32>().ok()),
                p.get("vmid").and_then(|v| v.parse::<i32>().ok()),
            )
        })
    }
}

/// What a page shows when its data could not be loaded: the error in words, and its status
/// (401/403/404/…) on the response.
pub fn load_failed(e: crate::AppError) -> AnyView {
    #[cfg(feature = "ssr")]
    crate::session::set_page_status(e.status());
    view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any()
}

/// What a VM page shows when it cannot be shown: the status on the response (404/403), and
/// `refused` in words for "no access or no such VM", else the error itself.
pub fn vm_page_refused(
    e: crate::AppError,
    id: &'static str,
    title: &'static str,
    refused: &'static str,
) -> AnyView {
    #[cfg(feature = "ssr")]
    crate::session::set_page_status(e.status());
    let text = match e {
        crate::AppError::NotFound(_) | crate::AppError::Forbidden => refused.to_string(),
        other => other.to_string(),
    };
    view! {
        <section class="card" id=id>
            <h1>{title}</h1>
            <p>{text}</p>
            <p><a href=crate::ids::ROUTE_HOME>"Back to your VMs"</a></p>
        </section>
    }
    .into_any()
}
