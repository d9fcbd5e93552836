//! Reading a page's route parameters.

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
