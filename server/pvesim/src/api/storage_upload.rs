//! `POST /nodes/{n}/storage/{s}/upload`: a file sent as `multipart/form-data`, spooled by
//! the HTTP server before the API handler runs, as pveproxy does
//! (pve-http-server `PVE/APIServer/AnyEvent.pm`, `file_upload_multipart`), then copied into
//! the storage by an `imgcopy` task (pve-storage `API2/Storage/Status.pm`, `upload`).
//!
//! What pveproxy demands of the body: a `Content-Length` ("upload without content length
//! header not supported"); the fields `content`, `checksum-algorithm` and `checksum` *before*
//! the file; the file as the part named `filename` whose `filename="…"` is the file's name
//! ("wrong field name 'x' for file upload, expected 'filename'"). The file goes to
//! `/var/tmp/pveupload-<md5>` (here: the simulator's temporary folder), which becomes the
//! handler's `tmpfilename`.
//!
//! What the handler checks: `Datastore.AllocateTemplate` on `/storage/{s}`; a file storage
//! ("can't upload to storage type …"); an `.iso`/`.img` name for `iso` (after
//! `normalize_content_filename`); the storage's content types. The task logs the source,
//! the checksum check (a mismatch fails it), the target and size and the copy command, then
//! "finished file import successfully". An existing file is overwritten ("NOTE: we simply
//! overwrite the destination file if it already exists"). The spooled file is removed at the
//! end either way.
//!
//! Deviations: only `content=iso` is simulated (`vztmpl` and `import` answer 501); no `md5`;
//! `assert_iso_content` (which asks `file` for the type) is not run.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::Cx;
use super::authn::require;
use super::reply::{ApiError, ApiResult, ok};
use super::storage_files::{ALGORITHMS, content_dir, hash_file, normalize};
use super::tasks::start;

/// What pveproxy spooled: the form's fields and the file.
pub(crate) struct Spooled {
    content: Option<String>,
    algorithm: Option<String>,
    checksum: Option<String>,
    filename: String,
    path: PathBuf,
}

impl Drop for Spooled {
    /// pveproxy unlinks its temporary file when the request ends, and the task unlinks it
    /// when it is done; here the task moves it out first, so this only cleans up a refusal.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn bad(text: impl Into<String>) -> ApiError {
    ApiError::Status(400, text.into())
}

/// Reads the multipart body into a temporary file, field by field as pveproxy does.
pub(crate) async fn spool(
    headers: &HeaderMap,
    body: Body,
    tmp: PathBuf,
) -> Result<Spooled, ApiError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let boundary = multer::parse_boundary(&ctype)
        .map_err(|_| bad(format!("upload 'Content-Type '{ctype}' not implemented")))?;
    if headers.get(header::CONTENT_LENGTH).is_none() {
        return Err(bad("upload without content length header not supported"));
    }
    let stream = body.into_data_stream();
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields = (None, None, None);
    let broken = |e: multer::Error| bad(format!("broken multipart upload: {e}"));
    loop {
        let Some(mut field) = form.next_field().await.map_err(broken)? else {
            return Err(ApiError::param("filename", "property is missing"));
        };
        let name = field.name().unwrap_or_default().to_string();
        if let Some(file) = field.file_name().map(str::to_string) {
            if name != "filename" {
                return Err(bad(format!(
                    "wrong field name '{name}' for file upload, expected 'filename'"
                )));
            }
            let mut out = tokio::fs::File::create(&tmp).await.map_err(|e| {
                ApiError::msg(format!("unable to create temporary upload file - {e}"))
            })?;
            let spooled = Spooled {
                content: fields.0,
                algorithm: fields.1,
                checksum: fields.2,
                filename: file.trim().to_string(),
                path: tmp,
            };
            while let Some(chunk) = field.chunk().await.map_err(broken)? {
                out.write_all(&chunk)
                    .await
                    .map_err(|e| ApiError::msg(format!("writing upload failed - {e}")))?;
            }
            out.flush()
                .await
                .map_err(|e| ApiError::msg(e.to_string()))?;
            return Ok(spooled);
        }
        let value = field.text().await.map_err(broken)?.trim().to_string();
        match name.as_str() {
            "content" => fields.0 = Some(value),
            "checksum-algorithm" => fields.1 = Some(value),
            "checksum" => fields.2 = Some(value),
            // pveproxy's parser skips what it does not look for.
            _ => {}
        }
    }
}

/// The API handler, on what [`spool`] wrote.
pub(crate) fn upload(cx: &Cx, node: &str, sid: &str, file: Spooled) -> ApiResult {
    let content = file.content.clone().unwrap_or_default();
    match content.as_str() {
        "iso" => {}
        "vztmpl" | "import" => {
            return Err(ApiError::NotImplemented(format!(
                "pvesim: uploads of '{content}' are not simulated"
            )));
        }
        "" => return Err(ApiError::param("content", "property is missing")),
        other => {
            return Err(ApiError::param(
                "content",
                format!(
                    "value '{other}' does not have a value in the enumeration 'iso, vztmpl, import'"
                ),
            ));
        }
    }
    let checksum = match (&file.checksum, &file.algorithm) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ApiError::param(
                "checksum",
                "parameter 'checksum-algorithm' is required",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::param(
                "checksum-algorithm",
                "parameter 'checksum' is required",
            ));
        }
        (Some(sum), Some(a)) if ALGORITHMS.contains(&a.as_str()) => Some((sum.clone(), a.clone())),
        (Some(_), Some(a)) => {
            return Err(ApiError::param(
                "checksum-algorithm",
                format!("value '{a}' does not have a value in the enumeration (pvesim has no md5)"),
            ));
        }
    };
    if file.filename.is_empty() || file.filename.len() > 255 {
        return Err(ApiError::param("filename", "property is missing"));
    }
    require(
        &cx.st.lock(),
        &cx.ident,
        &format!("/storage/{sid}"),
        "Datastore.AllocateTemplate",
    )?;
    let dir = content_dir(cx, sid, "iso")?;
    let filename = normalize(&file.filename);
    let lower = filename.to_ascii_lowercase();
    if !(lower.ends_with(".iso") || lower.ends_with(".img")) {
        return Err(ApiError::param("filename", "wrong file extension"));
    }
    // The task owns the spooled file from here (moved out of `file`, whose drop is then a
    // no-op on a path that no longer exists).
    let source = file.path.with_extension("task");
    std::fs::rename(&file.path, &source).map_err(|e| ApiError::msg(e.to_string()))?;
    let dest = dir.join(&filename);
    let size = std::fs::metadata(&source).map(|m| m.len()).unwrap_or(0);
    let upid = {
        let mut inner = cx.st.lock();
        start(cx, &mut inner, node, "imgcopy", "")
    };
    // The copy runs off the simulator's lock (an ISO is gigabytes).
    let (st, upid2) = (cx.st.clone(), upid.clone());
    tokio::spawn(async move {
        let result = tokio::task::spawn_blocking(move || {
            let result = copy(&source, &dest, size, checksum);
            let _ = std::fs::remove_file(&source);
            result
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        let now = st.now();
        st.lock().tasks.finish(&upid2, now, result);
    });
    ok(Value::String(upid))
}

/// The `imgcopy` worker: checksum, then the copy.
fn copy(
    source: &std::path::Path,
    dest: &std::path::Path,
    size: u64,
    checksum: Option<(String, String)>,
) -> Result<Vec<String>, String> {
    let mut log = vec![format!("starting file import from: {}", source.display())];
    if let Some((sum, algorithm)) = checksum {
        let got = hash_file(&algorithm, source).map_err(|e| e.to_string())?;
        if !got.eq_ignore_ascii_case(&sum) {
            return Err(format!(
                "calculating checksum...\nchecksum mismatch: got '{got}' != expect '{sum}'"
            ));
        }
        log.push("calculating checksum...OK, checksum verified".into());
    }
    log.push("target node: (this node)".into());
    log.push(format!("target file: {}", dest.display()));
    log.push(format!("file size is: {size}"));
    log.push(format!(
        "command: cp -- {} {}",
        source.display(),
        dest.display()
    ));
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("import failed: {e}"))?;
    }
    std::fs::copy(source, dest).map_err(|e| format!("import failed: {e}"))?;
    log.push("finished file import successfully".into());
    Ok(log)
}

/// `/var/tmp/pveupload-<md5 hex>`: a fresh name in the simulator's temporary folder.
pub(crate) fn upload_filename(root: &std::path::Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    root.join("var-tmp").join(format!(
        "pveupload-{:032x}",
        u128::from(seq) << 64 | (stamp & u128::from(u64::MAX))
    ))
}
