//! `PUT .../resize` (`disk`, `size` absolute like `40G` or relative `+10G`): a `resize`
//! task (asynchronous since PVE 8) that grows the volume (`qemu-img resize` for qcow2 files)
//! and its `size=`; shrinking is refused as in PVE.

use serde_json::json;

use crate::api::Cx;
use crate::api::authn::require;
use crate::api::reply::{ApiError, ApiResult, ok};
use crate::api::tasks::spawn;
use crate::model::store::Kind;
use crate::model::{Inner, State};

/// `PUT .../resize` (`disk`, `size` absolute like `40G` or relative `+10G`): a `resize`
/// task (asynchronous since PVE 8) that grows the volume (`qemu-img resize` for qcow2 files)
/// and its `size=`; shrinking is refused as in PVE.
pub(crate) fn resize(cx: &Cx, node: &str, _kind: Kind, vmid: u32) -> ApiResult {
    use crate::model::conf::{format_size, parse_size};
    use crate::model::disks;
    let disk =
        cx.p.get("disk")
            .ok_or_else(|| ApiError::param("disk", "property is missing and it is not optional"))?
            .to_string();
    let size =
        cx.p.get("size")
            .ok_or_else(|| ApiError::param("size", "property is missing and it is not optional"))?
            .to_string();
    let (relative, amount) = match size.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, size.as_str()),
    };
    let bytes = parse_size(amount).ok_or_else(|| {
        ApiError::param(
            "size",
            format!("value does not match the regex pattern ('{size}')"),
        )
    })?;
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Config.Disk")?;
    let g = inner
        .store
        .get(vmid)
        .cloned()
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    let value = g
        .conf
        .main
        .get(&disk)
        .cloned()
        .ok_or_else(|| ApiError::msg(format!("disk '{disk}' does not exist")))?;
    let volid = disks::volid_of(&value)
        .map(str::to_string)
        .ok_or_else(|| ApiError::msg(format!("disk '{disk}' does not exist")))?;
    let old = crate::model::metrics::disk_size(&value).unwrap_or(0);
    let new = if relative { old + bytes } else { bytes };
    if new < old {
        return Err(ApiError::msg("shrinking disks is not supported"));
    }
    let job = Box::new(
        move |inner: &mut Inner, st: &State| -> Result<Vec<String>, String> {
            let g = inner.store.get(vmid).cloned().ok_or("config vanished")?;
            if let Some((sid, volname)) = disks::split_volid(&volid)
                && let Some(path) = inner
                    .storage(sid)
                    .and_then(|s| disks::vol_path(&st.cfg.root, s, volname))
                && volname.ends_with(".qcow2")
            {
                let _ = std::process::Command::new("qemu-img")
                    .args(["resize", "-f", "qcow2"])
                    .arg(&path)
                    .arg(new.to_string())
                    .output();
            }
            let mut conf = g.conf.clone();
            let rest: Vec<String> = value
                .split(',')
                .filter(|p| !p.starts_with("size="))
                .map(str::to_string)
                .collect();
            conf.main.insert(
                disk.clone(),
                format!("{},size={}", rest.join(","), format_size(new)),
            );
            inner
                .store
                .write(vmid, &g.node, g.kind, &conf)
                .map_err(|e| e.to_string())?;
            Ok(vec![format!("Image resized to {}.", format_size(new))])
        },
    );
    let upid = spawn(
        cx,
        &mut inner,
        node,
        "resize",
        Some(vmid),
        &vmid.to_string(),
        0.5,
        job,
    );
    ok(json!(upid))
}
