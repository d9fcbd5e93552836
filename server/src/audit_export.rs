//! `GET /api/audit.csv?area=&who=&object=&from=&to=`: the audit log as a CSV file, with the
//! page's filter, for the signed-in admin (every line) or teacher (their classes' lines). A
//! plain route rather than a server function because the browser downloads it.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lab::Services;
use lab::model::AuditFilter;

/// The most lines one export holds (newest first): a year of a busy school fits.
const MAX_LINES: u64 = 200_000;

pub async fn audit_csv(
    State(services): State<Services>,
    headers: HeaderMap,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let user = match crate::cookie_session::signed_in_user(&services, &headers).await {
        Ok(Some(user)) => user,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Please sign in.").into_response(),
        Err(e) => return crate::console::refusal(e),
    };
    let csv = match lab::audit::export(&services, &user, &filter, MAX_LINES).await {
        Ok(csv) => csv,
        Err(e) => return crate::console::refusal(e),
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    lab::audit::export_name(lab::clock::now())
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        csv,
    )
        .into_response()
}
