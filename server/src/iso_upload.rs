//! `POST /api/isos/upload`: an ISO from the browser, on to Proxmox's `upload`. A plain route,
//! not a server function: the body is a file of gigabytes, read as a stream (multer) into a
//! temporary file in `upload_dir`, then sent on as a stream. pveproxy wants the file's length
//! before the file, and a spooled file has one (the browser's form gives none). Neither copy
//! is ever whole in memory; the temporary file is removed when the request ends, whatever
//! happens (`tempfile`; a process killed mid-upload leaves one, which the next start removes).
//!
//! The form sends `target`, `checksum` and `name` before `file` (browsers send fields in the
//! form's order), so who may, where and under which name are checked before a byte of the
//! file is read. The answer is a form post's: 303 to `/isos` (the transfer shows there), or to
//! `/isos?upload_error=…` with the reason. With JavaScript the ISO page sends the same form
//! with `XMLHttpRequest` to show progress, and follows the same redirect.
//!
//! Its own router (see `router.rs`): the origin check and rate limits as every POST, but not
//! the 64 KiB body limit or the body reader; its own limit is `max_upload_gib`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use lab::Services;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Prefix of the temporary files, so a start-up can find the ones a killed process left.
const SPOOL_PREFIX: &str = "proxlab-upload-";

#[derive(Clone)]
pub struct UploadState {
    pub services: Services,
    pub dir: Arc<PathBuf>,
}

pub async fn upload_iso(
    State(state): State<UploadState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receive(&state, &headers, body).await {
        Ok(()) => Redirect::to("/isos").into_response(),
        Err(Refused::Status(status, text)) => (status, text).into_response(),
        Err(Refused::Error(e)) => {
            let text = if matches!(e, lab::Error::Internal(_) | lab::Error::Database(_)) {
                tracing::error!(error = %e, "ISO upload failed");
                "Something went wrong; it has been logged.".to_string()
            } else {
                e.to_string()
            };
            let reason: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
            Redirect::to(&format!("/isos?upload_error={reason}")).into_response()
        }
    }
}

enum Refused {
    /// Not a usable request at all (not signed in, not a form): a status and a line.
    Status(StatusCode, &'static str),
    /// A reason to show on the ISO page.
    Error(lab::Error),
}

impl From<lab::Error> for Refused {
    fn from(e: lab::Error) -> Self {
        Refused::Error(e)
    }
}

fn invalid(text: &str) -> Refused {
    Refused::Error(lab::Error::Invalid(text.into()))
}

async fn receive(state: &UploadState, headers: &HeaderMap, body: Body) -> Result<(), Refused> {
    let user = crate::cookie_session::signed_in_user(&state.services, headers)
        .await?
        .ok_or(Refused::Status(
            StatusCode::UNAUTHORIZED,
            "Please sign in to upload ISO images.",
        ))?;
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or(Refused::Status(
            StatusCode::BAD_REQUEST,
            "Send the upload form (multipart/form-data).",
        ))?;
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    let broken = |e: multer::Error| invalid(&format!("The upload broke off: {e}"));
    let (mut target, mut checksum, mut name) = (String::new(), String::new(), String::new());
    let mut field = loop {
        let field = form
            .next_field()
            .await
            .map_err(broken)?
            .ok_or_else(|| invalid("Choose an ISO file to upload."))?;
        // Short text fields only; the file is the last part.
        match field.name().unwrap_or_default() {
            "file" => break field,
            "target" => target = short_text(field).await?,
            "checksum" => checksum = short_text(field).await?,
            "name" => name = short_text(field).await?,
            _ => return Err(invalid("The upload form has a field it should not.")),
        }
    };
    let file_name = field.file_name().unwrap_or_default().to_string();
    let plan = match lab::isos::plan_upload(
        &state.services,
        &user,
        &target,
        &name,
        &file_name,
        &checksum,
    )
    .await
    {
        Ok(plan) => plan,
        Err(e) => {
            // The browser is still sending the file: read it to the end (and drop it), or
            // the connection is cut under it and it shows an error page instead of ours.
            drain(field, &mut form).await;
            return Err(e.into());
        }
    };
    let spool = tempfile::Builder::new()
        .prefix(SPOOL_PREFIX)
        .tempfile_in(state.dir.as_path())
        .map_err(|e| lab::Error::Internal(format!("upload folder: {e}")))?;
    let mut out = tokio::fs::File::from_std(
        spool
            .reopen()
            .map_err(|e| lab::Error::Internal(format!("upload file: {e}")))?,
    );
    let mut len = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(broken)? {
        len += chunk.len() as u64;
        out.write_all(&chunk)
            .await
            .map_err(|e| lab::Error::Internal(format!("upload file: {e}")))?;
    }
    out.flush()
        .await
        .map_err(|e| lab::Error::Internal(format!("upload file: {e}")))?;
    drop(out);
    if len == 0 {
        return Err(invalid("The file is empty."));
    }
    let file = tokio::fs::File::open(spool.path())
        .await
        .map_err(|e| lab::Error::Internal(format!("upload file: {e}")))?;
    lab::isos::upload(&state.services, &user, plan, file, len).await?;
    // `spool` is removed here, after Proxmox has the whole file.
    Ok(())
}

/// Reads and drops the rest of a refused upload.
async fn drain(mut field: multer::Field<'_>, form: &mut multer::Multipart<'_>) {
    while let Ok(Some(_)) = field.chunk().await {}
    drop(field);
    while let Ok(Some(mut next)) = form.next_field().await {
        while let Ok(Some(_)) = next.chunk().await {}
    }
}

/// A form field of at most 1 KiB.
async fn short_text(field: multer::Field<'_>) -> Result<String, Refused> {
    let bytes = field
        .bytes()
        .await
        .map_err(|e| invalid(&format!("The upload broke off: {e}")))?;
    if bytes.len() > 1024 {
        return Err(invalid("A field of the upload form is too long."));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Removes the temporary files of uploads a killed process left (older than a day, so a
/// second instance's running upload in the same folder is left alone).
pub fn remove_leftovers(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let day = std::time::Duration::from_secs(86_400);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        let ours = entry
            .file_name()
            .to_string_lossy()
            .starts_with(SPOOL_PREFIX);
        if old
            && ours
            && let Err(e) = std::fs::remove_file(entry.path())
        {
            tracing::warn!(file = %entry.path().display(), error = %e, "could not remove a left-over upload");
        }
    }
}
