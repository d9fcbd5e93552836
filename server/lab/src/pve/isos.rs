//! ISO images on file storages (pve-storage `API2/Storage/Content.pm`, `Status.pm`).
//!
//! * The list is `GET …/storage/{s}/content?content=iso`: `volid` (`local:iso/x.iso`),
//!   `size`, `ctime`. A node-local storage (`local`) lists that node's files only; a shared
//!   one (NFS, CephFS) the same files from every node.
//! * `download-url` makes Proxmox fetch the file itself (task `download`, wget with
//!   `--progress=dot:giga` lines in its log); it wants `Datastore.AllocateTemplate` on the
//!   storage and `Sys.Audit`/`Sys.Modify` on `/` or `Sys.AccessNetwork` on the node, and
//!   refuses to overwrite a file unless the checksum given matches it.
//! * An upload is `POST …/storage/{s}/upload` as `multipart/form-data` with a
//!   `Content-Length`: `content`, `checksum-algorithm` and `checksum` first, the file last as
//!   the part named `filename` (pveproxy spools it to `/var/tmp/pveupload-…` before the
//!   handler runs; pve-http-server `AnyEvent.pm`, `file_upload_multipart`). The handler's
//!   task `imgcopy` checks the checksum and copies the file in, overwriting one of the same
//!   name; it wants `Datastore.AllocateTemplate` on the storage.
//! * Deleting is `DELETE …/content/{volid}` (task `imgdel`, `Datastore.Allocate`).

use super::client::{Client, seg, upid};
use super::error::Error;
use super::types::IsoEntry;
use reqwest::Method;
use std::time::Duration;

/// What Proxmox is asked to download.
#[derive(Debug, Clone)]
pub struct IsoDownload<'a> {
    pub url: &'a str,
    /// The file name (Proxmox normalises it; ours is checked before).
    pub filename: &'a str,
    /// `(algorithm, hex digest)`: `sha256`, `sha512`, …
    pub checksum: Option<(&'a str, &'a str)>,
}

/// A file sent to Proxmox.
#[derive(Debug)]
pub struct IsoUpload<'a> {
    pub filename: &'a str,
    pub checksum: Option<(&'a str, &'a str)>,
    pub file: tokio::fs::File,
    pub len: u64,
}

/// Slowest rate an upload is given time for (5 MiB/s: a 6 GiB ISO gets 20 minutes).
const UPLOAD_FLOOR_BYTES_PER_SEC: u64 = 5 << 20;

impl Client {
    pub async fn isos(&self, node: &str, storage: &str) -> Result<Vec<IsoEntry>, Error> {
        let path = format!(
            "nodes/{}/storage/{}/content?content=iso",
            seg(node),
            seg(storage)
        );
        let data = self.request(Method::GET, &path, None).await?;
        if data.is_null() {
            return Ok(Vec::new());
        }
        serde_json::from_value(data).map_err(|e| Error::Decode(format!("ISO list: {e}")))
    }

    /// Starts Proxmox's download of an ISO into `storage` on `node`; returns the UPID.
    pub async fn download_iso(
        &self,
        node: &str,
        storage: &str,
        d: &IsoDownload<'_>,
    ) -> Result<String, Error> {
        let path = format!("nodes/{}/storage/{}/download-url", seg(node), seg(storage));
        let mut form = vec![("url", d.url), ("content", "iso"), ("filename", d.filename)];
        if let Some((algorithm, sum)) = d.checksum {
            form.push(("checksum-algorithm", algorithm));
            form.push(("checksum", sum));
        }
        upid(
            self.request(Method::POST, &path, Some(&form)).await?,
            "download-url",
        )
    }

    /// Sends an ISO to `storage` on `node`, streamed from the file (never whole in memory,
    /// with its length, as pveproxy requires); returns the `imgcopy` task's UPID.
    pub async fn upload_iso(
        &self,
        node: &str,
        storage: &str,
        u: IsoUpload<'_>,
    ) -> Result<String, Error> {
        use reqwest::multipart::{Form, Part};
        let path = format!("nodes/{}/storage/{}/upload", seg(node), seg(storage));
        let mut form = Form::new().text("content", "iso");
        if let Some((algorithm, sum)) = u.checksum {
            form = form
                .text("checksum-algorithm", algorithm.to_string())
                .text("checksum", sum.to_string());
        }
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(u.file));
        let part = Part::stream_with_length(body, u.len)
            .file_name(u.filename.to_string())
            .mime_str("application/octet-stream")
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let timeout = Duration::from_secs(60 + u.len / UPLOAD_FLOOR_BYTES_PER_SEC);
        upid(
            self.post_multipart(&path, form.part("filename", part), timeout)
                .await?,
            "upload",
        )
    }

    /// Deletes a volume (`local:iso/x.iso`) of `storage` as seen from `node`; returns the
    /// UPID.
    pub async fn delete_volume(
        &self,
        node: &str,
        storage: &str,
        volid: &str,
    ) -> Result<String, Error> {
        let path = format!(
            "nodes/{}/storage/{}/content/{}",
            seg(node),
            seg(storage),
            seg(volid)
        );
        upid(
            self.request(Method::DELETE, &path, None).await?,
            "volume delete",
        )
    }
}
