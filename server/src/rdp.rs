//! `GET /vm/{cluster}/{vmid}/rdp`: a `.rdp` file for a VM the signed-in user may use. A plain
//! route rather than a server function because the browser downloads it. No IP known yet is a
//! clear 503 page, not an empty file.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use lab::Services;

pub async fn rdp_file(
    State(services): State<Services>,
    Path((cluster_id, vmid)): Path<(i32, i32)>,
    headers: HeaderMap,
) -> Response {
    let user = match crate::cookie_session::signed_in_user(&services, &headers).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return page(
                StatusCode::UNAUTHORIZED,
                "Please sign in to download an RDP file.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "rdp: session lookup failed");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong; it has been logged.",
            );
        }
    };
    let vm = match lab::inventory::usable_vm(&services, &user, cluster_id, vmid).await {
        Ok(vm) => vm,
        Err(lab::Error::NotFound(_)) => return page(StatusCode::NOT_FOUND, "No such VM."),
        // A VMID Proxmox could never have: bad input, not a server error.
        Err(lab::Error::Invalid(message)) => return page(StatusCode::BAD_REQUEST, &message),
        Err(e) => {
            tracing::error!(error = %e, "rdp: VM lookup failed");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong; it has been logged.",
            );
        }
    };
    let Some(ip) = vm.ip.as_deref() else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "This VM has no known IP address yet. Start it, wait until the dashboard shows its IP, then download the RDP file again.",
        );
    };
    let file = lab::model::rdp_file(ip, &user.username);
    let name = vm
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
        .collect::<String>();
    (
        [
            (header::CONTENT_TYPE, "application/x-rdp".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}.rdp\"",
                    if name.is_empty() { "vm" } else { &name }
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        file,
    )
        .into_response()
}

fn page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>RDP file · Proxlab</title>\
         <link rel=\"stylesheet\" href=\"/pkg/proxlab.css\"></head><body><main class=\"card\"><h1>RDP file</h1>\
         <p>{}</p><p><a href=\"/\">Back to your VMs</a></p></main></body></html>",
        message.replace('&', "&amp;").replace('<', "&lt;")
    );
    (status, Html(body)).into_response()
}
