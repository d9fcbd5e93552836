//! Files on file storages (uploads are in `storage_upload`): `POST
//! /nodes/{n}/storage/{s}/download-url` and
//! `DELETE /nodes/{n}/storage/{s}/content/{volume}` (pve-storage `API2/Storage/Status.pm`
//! `download_url`, `API2/Storage/Content.pm` `delete`).
//!
//! * download-url needs `Datastore.AllocateTemplate` on `/storage/{s}` and `Sys.Audit` or
//!   `Sys.Modify` on `/` (or `Sys.AccessNetwork` on the node); the file name is normalised
//!   (`normalize_content_filename`: path cut off, anything but `[a-zA-Z0-9_.-]` becomes `_`)
//!   and must end in `.iso`/`.img` for ISOs; the storage must be a file storage with that
//!   content. The task (`download`, its id the file name) fetches into `<dest>.tmp.<pid>`,
//!   logs wget's `--progress=dot:giga` lines, checks the checksum and renames; an existing
//!   file is refused ("refusing to override existing file") unless the checksum matches
//!   ("OK, got correct file already"), as `PVE::Tools::download_file_from_url` does.
//! * delete needs `Datastore.Allocate` on `/storage/{s}`; its task is `imgdel` with the
//!   storage as id.
//!
//! Deviations: the download really happens (over HTTP(S) from the simulator's process), but
//! `md5` is not offered (no MD5 here; PVE accepts it); the `local` storage's folder is shared
//! by all simulated nodes (see `storage`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sha2::Digest;

use super::Cx;
use super::authn::{has_any, require};
use super::reply::{ApiError, ApiResult, ok};
use super::tasks::{spawn, start};
use crate::model::State;

pub(crate) const ALGORITHMS: [&str; 5] = ["sha1", "sha224", "sha256", "sha384", "sha512"];

/// `PVE::Storage::normalize_content_filename`.
pub(crate) fn normalize(name: &str) -> String {
    let name = name.trim_end_matches('\n');
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The folder of `content` on a file storage, or why there is none.
pub(crate) fn content_dir(cx: &Cx, sid: &str, content: &str) -> Result<PathBuf, ApiError> {
    let inner = cx.st.lock();
    let s = inner
        .storage(sid)
        .ok_or_else(|| ApiError::msg(format!("storage '{sid}' does not exist")))?;
    let Some(path) = s.path else {
        return Err(ApiError::msg(format!(
            "can't upload to storage type '{}', not a file based storage!",
            s.plugintype
        )));
    };
    if !s.content.split(',').any(|c| c == content) {
        return Err(ApiError::msg(format!(
            "storage '{sid}' is not configured for content-type '{content}'"
        )));
    }
    let sub = match content {
        "iso" => "template/iso",
        _ => "template/cache",
    };
    Ok(cx.st.cfg.root.join(path).join(sub))
}

pub(crate) fn download_url(cx: &Cx, node: &str, sid: &str) -> ApiResult {
    let url = cx.p.get("url").unwrap_or_default().to_string();
    let content = cx.p.get("content").unwrap_or_default().to_string();
    let filename = cx.p.get("filename").unwrap_or_default().to_string();
    let checksum = cx.p.get("checksum").map(str::to_string);
    let algorithm = cx.p.get("checksum-algorithm").map(str::to_string);
    let mut errors = Vec::new();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        errors.push((
            "url".to_string(),
            "value does not match the regex pattern".to_string(),
        ));
    }
    if !matches!(content.as_str(), "iso" | "vztmpl") {
        errors.push((
            "content".to_string(),
            "value 'x' does not have a value in the enumeration 'iso, vztmpl, import'"
                .replace('x', &content),
        ));
    }
    if filename.is_empty() || filename.len() > 255 {
        errors.push(("filename".to_string(), "property is missing".to_string()));
    }
    match (&checksum, &algorithm) {
        (Some(_), None) => errors.push((
            "checksum".to_string(),
            "parameter 'checksum-algorithm' is required".to_string(),
        )),
        (None, Some(_)) => errors.push((
            "checksum-algorithm".to_string(),
            "parameter 'checksum' is required".to_string(),
        )),
        (_, Some(a)) if !ALGORITHMS.contains(&a.as_str()) => errors.push((
            "checksum-algorithm".to_string(),
            format!("value '{a}' does not have a value in the enumeration (pvesim has no md5)"),
        )),
        _ => {}
    }
    if !errors.is_empty() {
        return Err(ApiError::Param(errors));
    }
    {
        let inner = cx.st.lock();
        require(
            &inner,
            &cx.ident,
            &format!("/storage/{sid}"),
            "Datastore.AllocateTemplate",
        )?;
        let network = has_any(&inner, &cx.ident, "/", &["Sys.Audit", "Sys.Modify"])
            || has_any(
                &inner,
                &cx.ident,
                &format!("/nodes/{node}"),
                &["Sys.AccessNetwork"],
            );
        if !network {
            return Err(super::authn::denied(None));
        }
    }
    let dir = content_dir(cx, sid, &content)?;
    let filename = normalize(&filename);
    if content == "iso"
        && !(filename.to_ascii_lowercase().ends_with(".iso")
            || filename.to_ascii_lowercase().ends_with(".img"))
    {
        return Err(ApiError::param("filename", "wrong file extension"));
    }
    let verify = match cx.p.get("verify-certificates") {
        None => true,
        Some(_) => cx.p.flag("verify-certificates")?,
    };
    let upid = {
        let mut inner = cx.st.lock();
        // The work is done by `fetch` below; the task ends when it calls `finish`.
        start(cx, &mut inner, node, "download", &filename)
    };
    let st = cx.st.clone();
    let job = Download {
        url,
        dest: dir.join(&filename),
        checksum: checksum.zip(algorithm),
        verify,
    };
    let upid2 = upid.clone();
    tokio::spawn(async move {
        let result = job.run(&st, &upid2).await;
        let now = st.now();
        st.lock().tasks.finish(&upid2, now, result);
    });
    ok(Value::String(upid))
}

struct Download {
    url: String,
    dest: PathBuf,
    checksum: Option<(String, String)>,
    verify: bool,
}

/// Appends a line to a running task's log.
fn log(st: &State, upid: &str, line: String) {
    if let Some(task) = st.lock().tasks.get_mut(upid) {
        task.log.push(line);
    }
}

/// `PVE::Tools::get_file_hash`, read in 1 MiB pieces.
pub(crate) fn hash_file(algorithm: &str, path: &Path) -> std::io::Result<String> {
    fn digest<D: Digest>(path: &Path) -> std::io::Result<String> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let (mut hasher, mut buf) = (D::new(), vec![0u8; 1 << 20]);
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }
    match algorithm {
        "sha1" => digest::<sha1::Sha1>(path),
        "sha224" => digest::<sha2::Sha224>(path),
        "sha256" => digest::<sha2::Sha256>(path),
        "sha384" => digest::<sha2::Sha384>(path),
        _ => digest::<sha2::Sha512>(path),
    }
}

impl Download {
    async fn run(self, st: &Arc<State>, upid: &str) -> Result<Vec<String>, String> {
        let dest = self.dest.display().to_string();
        log(st, upid, format!("downloading {} to {dest}", self.url));
        if self.dest.exists() {
            let Some((sum, algorithm)) = &self.checksum else {
                return Err(format!("refusing to override existing file '{dest}'"));
            };
            log(st, upid, "calculating checksum of existing file...".into());
            let got = hash_file(algorithm, &self.dest).map_err(|e| e.to_string())?;
            if got.eq_ignore_ascii_case(sum) {
                return Ok(vec![
                    "OK, got correct file already, no need to download".into(),
                ]);
            }
            return Err(format!(
                "checksum mismatch: got '{got}' != expect '{sum}', aborting"
            ));
        }
        let tmp = PathBuf::from(format!("{dest}.tmp.{}", std::process::id()));
        let result = self.fetch(st, upid, &tmp).await;
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result?;
        if let Some((sum, algorithm)) = &self.checksum {
            let got = hash_file(algorithm, &tmp).map_err(|e| e.to_string())?;
            if !got.eq_ignore_ascii_case(sum) {
                let _ = std::fs::remove_file(&tmp);
                return Err(format!(
                    "calculating checksum...\nchecksum mismatch: got '{got}' != expect '{sum}'"
                ));
            }
            log(
                st,
                upid,
                "calculating checksum...OK, checksum verified".into(),
            );
        }
        std::fs::rename(&tmp, &self.dest)
            .map_err(|e| format!("unable to rename temporary file: {e}"))?;
        Ok(vec![format!(
            "download of '{}' to '{dest}' finished",
            self.url
        )])
    }

    /// wget into `tmp`, with its `dot:giga` progress lines (one per 32 MiB; here one per
    /// eighth of the file as well, so small test files show progress too).
    async fn fetch(&self, st: &Arc<State>, upid: &str, tmp: &Path) -> Result<(), String> {
        use std::io::Write;
        let failed = |e: String| format!("download failed: {e}");
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(!self.verify)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let mut response = client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!(
                "ERROR {} {}",
                response.status().as_u16(),
                response.status().canonical_reason().unwrap_or("")
            )));
        }
        let total = response.content_length();
        if let Some(len) = total {
            log(st, upid, format!("Length: {len}"));
        }
        if let Some(dir) = tmp.parent() {
            std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
        }
        let mut file = std::fs::File::create(tmp).map_err(|e| failed(e.to_string()))?;
        let step = total.map_or(32 << 20, |t| (t / 8).clamp(1, 32 << 20));
        let (mut got, mut next) = (0u64, step);
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
            file.write_all(&chunk).map_err(|e| failed(e.to_string()))?;
            got += chunk.len() as u64;
            if got >= next {
                next = got + step;
                let pct = total.map_or(String::new(), |t| format!(" {}%", got * 100 / t.max(1)));
                log(
                    st,
                    upid,
                    format!(
                        "{:>8}K ........ ........ ........ ........{pct}",
                        (got - got.min(step)) >> 10
                    ),
                );
            }
        }
        file.sync_all().map_err(|e| failed(e.to_string()))?;
        Ok(())
    }
}

/// `DELETE …/content/{volume}`: the volume is `storage:iso/name` or `iso/name`.
pub(crate) fn delete_content(cx: &Cx, node: &str, sid: &str, volume: &str) -> ApiResult {
    let volname = match volume.split_once(':') {
        Some((s, rest)) if s == sid => rest.to_string(),
        Some((s, _)) => {
            return Err(ApiError::msg(format!("storage ID mismatch ({s} != {sid})")));
        }
        None => volume.to_string(),
    };
    let (sub, name) = match volname.split_once('/') {
        Some(("iso", name)) => ("template/iso", name.to_string()),
        Some(("vztmpl", name)) => ("template/cache", name.to_string()),
        _ => {
            return Err(ApiError::msg(format!(
                "unable to parse volume name '{volname}'"
            )));
        }
    };
    if name.contains('/') || name.starts_with('.') {
        return Err(ApiError::msg(format!(
            "unable to parse volume name '{volname}'"
        )));
    }
    let mut inner = cx.st.lock();
    let s = inner
        .storage(sid)
        .ok_or_else(|| ApiError::msg(format!("storage '{sid}' does not exist")))?;
    let Some(path) = s.path else {
        return Err(ApiError::msg(format!(
            "unable to parse volume name '{volname}'"
        )));
    };
    require(
        &inner,
        &cx.ident,
        &format!("/storage/{sid}"),
        "Datastore.Allocate",
    )?;
    let file = cx.st.cfg.root.join(path).join(sub).join(&name);
    let volid = format!("{sid}:{volname}");
    let upid = spawn(
        cx,
        &mut inner,
        node,
        "imgdel",
        None,
        sid,
        0.2,
        Box::new(move |_, _| {
            std::fs::remove_file(&file)
                .map_err(|e| format!("unlink '{}' failed - {e}", file.display()))?;
            Ok(vec![format!("Removed volume '{volid}'")])
        }),
    );
    ok(Value::String(upid))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn file_names_are_normalised_as_pve_does() {
        assert_eq!(normalize("debian 12.iso"), "debian_12.iso");
        assert_eq!(normalize("../../etc/x.iso"), "x.iso");
        assert_eq!(normalize("C:\\isos\\win.iso"), "win.iso");
        assert_eq!(normalize("ü.iso"), "_.iso");
    }
}
