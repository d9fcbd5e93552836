//! `/nodes/{n}/storage`, `.../status` and `.../content` (proxmox/pve-storage).
//!
//! Content is read from the storage folders: ISOs and container templates as files,
//! images from `images/<vmid>/`. Deviation: all nodes share one `var/lib/vz` on the
//! simulator's disk, so `local` lists only the images of guests placed on the asked node
//! (plus orphans), as a real node's own disk would. Block storages list
//! [`crate::model::blocks`], orphans included.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::Cx;
use super::authn::require_any;
use super::reply::{ApiError, ApiResult, ok};
use crate::model::store::Kind;
use crate::model::{Inner, Storage, blocks, disks};

/// Total and used bytes: a block storage's thin usage is what its volumes hold; file
/// storages show a fixed quarter (their files are the simulator's own, not the node's).
fn usage(inner: &Inner, s: &Storage, node: &str) -> (u64, u64) {
    if blocks::is_block(s) {
        return (s.total, inner.blocks.used(s, node).min(s.total));
    }
    (s.total, s.total / 4)
}

fn entry(inner: &Inner, s: &Storage, node: &str, with_id: bool) -> Value {
    let (total, used) = usage(inner, s, node);
    let mut m = Map::new();
    if with_id {
        m.insert("storage".into(), json!(s.id));
    }
    m.insert("type".into(), json!(s.plugintype));
    m.insert("content".into(), json!(s.content));
    m.insert("active".into(), json!(1));
    m.insert("enabled".into(), json!(1));
    m.insert("shared".into(), json!(u8::from(s.shared)));
    m.insert("total".into(), json!(total));
    m.insert("used".into(), json!(used));
    m.insert("avail".into(), json!(total - used));
    if with_id {
        m.insert("used_fraction".into(), json!(used as f64 / total as f64));
    }
    Value::Object(m)
}

pub(crate) fn list(cx: &Cx, node: &str) -> ApiResult {
    let inner = cx.st.lock();
    let content = cx.p.get("content");
    let only = cx.p.get("storage");
    let out: Vec<Value> = inner
        .storages
        .iter()
        .filter(|s| content.is_none_or(|c| s.content.split(',').any(|x| x == c)))
        .filter(|s| only.is_none_or(|o| o == s.id))
        .map(|s| entry(&inner, s, node, true))
        .collect();
    ok(Value::Array(out))
}

fn find<'a>(inner: &'a Inner, sid: &str) -> Result<&'a Storage, ApiError> {
    inner
        .storage(sid)
        .ok_or_else(|| ApiError::msg(format!("storage '{sid}' does not exist")))
}

pub(crate) fn status(cx: &Cx, node: &str, sid: &str) -> ApiResult {
    let inner = cx.st.lock();
    ok(entry(&inner, find(&inner, sid)?, node, false))
}

fn ctime(path: &Path) -> u64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn content(cx: &Cx, node: &str, sid: &str) -> ApiResult {
    let mut inner = cx.st.lock();
    inner.refresh();
    require_any(
        &inner,
        &cx.ident,
        &format!("/storage/{sid}"),
        &["Datastore.Audit", "Datastore.AllocateSpace"],
    )?;
    let s = find(&inner, sid)?.clone();
    let want = cx.p.get("content");
    let vmid_filter = cx.p.get("vmid").and_then(|v| v.parse::<u32>().ok());
    let mut out = Vec::new();
    let root = cx.st.cfg.root.clone();
    if let Some(path) = s.path {
        let base = root.join(path);
        for (content, dir, format) in [
            ("iso", "template/iso", "iso"),
            ("vztmpl", "template/cache", "tzst"),
        ] {
            if !s.content.split(',').any(|c| c == content)
                || want.is_some_and(|w| w != content)
                || vmid_filter.is_some()
            {
                continue;
            }
            for e in std::fs::read_dir(base.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = e.file_name().to_string_lossy().into_owned();
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(json!({"volid": format!("{}:{content}/{name}", s.id), "content": content, "format": format, "size": size, "ctime": ctime(&e.path())}));
            }
        }
        if s.content.contains("images") && want.is_none_or(|w| w == "images") {
            for d in std::fs::read_dir(base.join("images"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let Ok(vmid) = d.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                if vmid_filter.is_some_and(|f| f != vmid) {
                    continue;
                }
                let owner = inner.store.get(vmid).map(|g| g.node.clone());
                if !s.shared && owner.as_deref().is_some_and(|o| o != node) {
                    continue;
                }
                for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                    let file = f.file_name().to_string_lossy().into_owned();
                    out.push(image_entry(&s, vmid, &file, &f.path(), &inner));
                }
            }
        }
    } else if want.is_none_or(|w| w == "images" || w == "rootdir") {
        for (volid, v) in inner.blocks.list(&s, node) {
            let (_, volname) = disks::split_volid(&volid).unwrap_or_default();
            let Some(vmid) = blocks::owner(volname) else {
                continue;
            };
            if vmid_filter.is_some_and(|f| f != vmid) {
                continue;
            }
            let container = inner.store.get(vmid).is_some_and(|g| g.kind == Kind::Lxc);
            let content = if container { "rootdir" } else { "images" };
            if want.is_some_and(|w| w != content) {
                continue;
            }
            let mut m = Map::new();
            m.insert("volid".into(), json!(volid));
            m.insert("content".into(), json!(content));
            m.insert("format".into(), json!("raw"));
            m.insert("size".into(), json!(v.size));
            m.insert("used".into(), json!(v.used));
            m.insert("vmid".into(), json!(vmid));
            m.insert("ctime".into(), json!(v.ctime));
            // zfs and rbd name the base snapshot a clone hangs off; lvmthin says nothing.
            if let (Some(parent), "zfspool" | "rbd") = (&v.parent, s.plugintype) {
                m.insert("parent".into(), json!(format!("{parent}@__base__")));
            }
            out.push(Value::Object(m));
        }
    }
    ok(Value::Array(out))
}

fn image_entry(s: &Storage, vmid: u32, file: &str, path: &Path, inner: &Inner) -> Value {
    let format = file.rsplit('.').next().unwrap_or("raw");
    let used = std::fs::metadata(path).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.blocks() * 512
    });
    // A linked clone's volid names its base, read from the qcow2 backing file.
    let backing = disks::qcow2_backing(path).filter(|b| b.starts_with("../"));
    let from_backing = backing
        .as_deref()
        .map(|b| format!("{}:{}/{vmid}/{file}", s.id, &b[3..]));
    let volid = from_backing
        .or_else(|| {
            inner.store.get(vmid).and_then(|g| {
                g.conf
                    .main
                    .values()
                    .filter_map(|v| disks::volid_of(v))
                    .find(|v| {
                        v.starts_with(&format!("{}:", s.id))
                            && v.ends_with(&format!("{vmid}/{file}"))
                    })
                    .map(str::to_string)
            })
        })
        .unwrap_or_else(|| format!("{}:{vmid}/{file}", s.id));
    let size = inner
        .store
        .get(vmid)
        .and_then(|g| {
            g.conf
                .main
                .values()
                .find(|v| v.starts_with(&volid))
                .and_then(|v| crate::model::metrics::disk_size(v))
        })
        .unwrap_or_else(|| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
    let mut m = Map::new();
    m.insert("volid".into(), json!(volid));
    m.insert("content".into(), json!("images"));
    m.insert("format".into(), json!(format));
    m.insert("size".into(), json!(size));
    m.insert("used".into(), json!(used.unwrap_or(0)));
    m.insert("vmid".into(), json!(vmid));
    m.insert("ctime".into(), json!(ctime(path)));
    if let Some(parent) = backing {
        m.insert("parent".into(), json!(parent));
    }
    Value::Object(m)
}
