//! The ISO library as its page shows it, and the download form's input rules (both sides
//! check them: the browser for quick feedback, the server because it must).
//!
//! The rules are stricter than Proxmox's (which rewrites any odd character of a file name
//! to `_`): a name the portal accepts is the name the file gets, so the library and the
//! transfer list never disagree.

use super::job::stored_enum;
use serde::{Deserialize, Serialize};

/// Longest download URL accepted.
pub const MAX_ISO_URL: usize = 2000;
/// Longest ISO file name (Proxmox allows 255).
pub const MAX_ISO_NAME: usize = 200;

stored_enum! {
    /// Where a download Proxmox does for the portal stands.
    pub enum TransferState {
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

/// One ISO image; a shared storage's once (`node: None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsoView {
    pub cluster_id: i32,
    pub cluster: String,
    pub storage: String,
    /// The node of a node-local storage; `None` for a shared one.
    pub node: Option<String>,
    pub volid: String,
    /// The file name (`debian-12.iso`).
    pub name: String,
    pub size: i64,
    pub ctime: i64,
}

/// A storage an ISO can be downloaded to, as the form's `<select>` offers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsoTarget {
    /// `cluster_id/node/storage`; `node` is empty for a shared storage.
    pub value: String,
    pub label: String,
}

/// A download, running or ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsoTransferView {
    pub id: i32,
    pub cluster: String,
    pub node: String,
    pub storage: String,
    pub filename: String,
    pub url: String,
    pub state: TransferState,
    pub percent: Option<i32>,
    pub message: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// The ISO library page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsoPage {
    pub isos: Vec<IsoView>,
    pub targets: Vec<IsoTarget>,
    pub transfers: Vec<IsoTransferView>,
    /// When the lists were read (the oldest of the clusters shown).
    pub read_at: Option<i64>,
    pub now: i64,
}

/// The download form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsoDownloadForm {
    /// An [`IsoTarget::value`].
    pub target: String,
    pub url: String,
    /// Empty: the URL's last part.
    #[serde(default)]
    pub filename: String,
    /// Hex digest, optionally `algorithm:`-prefixed; empty: none.
    #[serde(default)]
    pub checksum: String,
}

/// An `http(s)://` URL with a host, no spaces or control characters.
pub fn check_iso_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.and_then(|r| r.split(['/', '?', '#']).next());
    let ok = url.len() <= MAX_ISO_URL
        && host.is_some_and(|h| !h.is_empty())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(url.to_string())
    } else {
        Err("Enter an http:// or https:// address of the ISO file.".into())
    }
}

/// The file name: the one given, or the URL's last part; letters, digits, `.`, `_`, `-`,
/// ending in `.iso` or `.img`.
pub fn iso_filename(raw: &str, url: &str) -> Result<String, String> {
    let given = raw.trim();
    let name = if given.is_empty() {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        path.rsplit('/').next().unwrap_or_default()
    } else {
        given
    };
    let lower = name.to_ascii_lowercase();
    let shaped = name.len() <= MAX_ISO_NAME
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && (lower.ends_with(".iso") || lower.ends_with(".img"))
        && name.len() > 4;
    if shaped {
        Ok(name.to_string())
    } else {
        Err(format!(
            "The file name must be at most {MAX_ISO_NAME} letters, digits, '.', '_' or '-', \
             start with a letter or digit and end in .iso or .img."
        ))
    }
}

/// An uploaded ISO's name: `given` if not empty (checked as [`iso_filename`]), else the
/// browser's file name made safe as Proxmox does (`normalize_content_filename`: the last path
/// part, anything but letters, digits, `.`, `_` and `-` becomes `_`).
pub fn upload_filename(given: &str, file_name: &str) -> Result<String, String> {
    if !given.trim().is_empty() {
        return iso_filename(given, "");
    }
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    let safe: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    iso_filename(&safe, "")
}

/// `(algorithm, lower-case hex)` of a checksum, its algorithm told by its length (SHA-1,
/// SHA-224, SHA-256, SHA-384, SHA-512); an `algorithm:` prefix must agree. Empty: none.
pub fn check_checksum(raw: &str) -> Result<Option<(&'static str, String)>, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (prefix, hex) = match text.split_once(':') {
        Some((p, h)) => (Some(p.trim().to_ascii_lowercase()), h.trim()),
        None => (None, text),
    };
    let bad = || {
        "A checksum is the hex digest of SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512 \
         (optionally written sha256:…)."
            .to_string()
    };
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let algorithm = match hex.len() {
        40 => "sha1",
        56 => "sha224",
        64 => "sha256",
        96 => "sha384",
        128 => "sha512",
        _ => return Err(bad()),
    };
    if prefix.is_some_and(|p| p != algorithm) {
        return Err(bad());
    }
    Ok(Some((algorithm, hex.to_ascii_lowercase())))
}

/// The file name of a volume id (`local:iso/x.iso` → `x.iso`).
pub fn iso_file_name(volid: &str) -> &str {
    volid.rsplit('/').next().unwrap_or(volid)
}

/// The percentage of wget's last `dot:giga` progress line in a task log (`… 45% 98M 3s`).
pub fn wget_percent(line: &str) -> Option<i32> {
    line.split_whitespace()
        .rev()
        .find_map(|w| w.strip_suffix('%')?.parse::<i32>().ok())
        .filter(|p| (0..=100).contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uploaded_file_is_named_as_proxmox_would() {
        assert_eq!(
            upload_filename("", "Win11_23H2 English x64.iso"),
            Ok("Win11_23H2_English_x64.iso".into())
        );
        assert_eq!(
            upload_filename("", "C:\\fakepath\\debian.iso"),
            Ok("debian.iso".into())
        );
        assert_eq!(
            upload_filename("tools.img", "whatever.iso"),
            Ok("tools.img".into())
        );
        assert!(upload_filename("", "notes.txt").is_err());
        assert!(upload_filename("bad name.iso", "x.iso").is_err());
        assert!(upload_filename("", "").is_err());
    }

    #[test]
    fn urls_must_be_web_addresses() {
        assert_eq!(
            check_iso_url(" https://cdimage.debian.org/x.iso ").unwrap(),
            "https://cdimage.debian.org/x.iso"
        );
        for bad in [
            "",
            "ftp://host/x.iso",
            "https:///x.iso",
            "file:///etc/passwd",
            "https://host/a b.iso",
            "https://host/x\n.iso",
            "javascript:alert(1)",
        ] {
            assert!(check_iso_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_names_come_from_the_url_or_the_form() {
        let url = "https://cdimage.debian.org/debian-12.7.0-amd64-netinst.iso?x=1";
        assert_eq!(
            iso_filename("", url).unwrap(),
            "debian-12.7.0-amd64-netinst.iso"
        );
        assert_eq!(iso_filename(" mine.ISO ", url).unwrap(), "mine.ISO");
        assert_eq!(iso_filename("disk.img", url).unwrap(), "disk.img");
        for bad in [
            "../x.iso",
            ".hidden.iso",
            "a b.iso",
            "x.exe",
            ".iso",
            "ü.iso",
            "x.iso/",
        ] {
            assert!(iso_filename(bad, url).is_err(), "{bad:?}");
        }
        assert!(iso_filename("", "https://host/download").is_err());
        assert!(iso_filename(&format!("{}.iso", "a".repeat(MAX_ISO_NAME)), url).is_err());
    }

    #[test]
    fn checksums_are_told_by_their_length() {
        assert_eq!(check_checksum("  ").unwrap(), None);
        let sha256 = "AB".repeat(32);
        assert_eq!(
            check_checksum(&sha256).unwrap(),
            Some(("sha256", "ab".repeat(32)))
        );
        assert_eq!(
            check_checksum(&format!("SHA256:{sha256}")).unwrap(),
            Some(("sha256", "ab".repeat(32)))
        );
        assert_eq!(
            check_checksum(&"0".repeat(128)).unwrap().unwrap().0,
            "sha512"
        );
        assert_eq!(check_checksum(&"0".repeat(40)).unwrap().unwrap().0, "sha1");
        for bad in [
            "xyz".to_string(),
            "0".repeat(63),
            format!("md5:{}", "0".repeat(32)),
            format!("sha512:{sha256}"),
            format!("{sha256}; rm -rf /"),
        ] {
            assert!(check_checksum(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wget_progress_is_read_from_the_last_line() {
        assert_eq!(
            wget_percent("  32768K ........ ........ ........ ........ 45% 98.1M 3s"),
            Some(45)
        );
        assert_eq!(wget_percent("downloading https://x/y.iso to /z"), None);
        assert_eq!(wget_percent("Length: 1000 (1K)"), None);
        assert_eq!(wget_percent("... 140%"), None);
    }
}
