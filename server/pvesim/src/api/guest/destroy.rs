//! `DELETE /nodes/{n}/{qemu,lxc}/{vmid}`: PVE's synchronous checks (protection first, then
//! lock, then "is running - destroy failed"), then a destroy task that frees the guest's own
//! volumes (never a template's base image still used by linked clones) and its config.

use serde_json::json;

use crate::api::Cx;
use crate::api::authn::require;
use crate::api::reply::{ApiError, ApiResult, ok};
use crate::api::tasks::spawn;
use crate::model::store::Kind;
use crate::model::{Inner, Power, State, Storage, blocks, disks};

/// `DELETE /nodes/{n}/qemu/{vmid}`: sync checks, then a `qmdestroy` task that removes the
/// disks it owns, the config file and (with `purge`) pool membership.
pub(crate) fn destroy(cx: &Cx, node: &str, kind: Kind, vmid: u32) -> ApiResult {
    let purge = cx.p.flag("purge")?;
    let unreferenced = cx.p.flag("destroy-unreferenced-disks")?;
    let skiplock = cx.p.flag("skiplock")?;
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Allocate")?;
    let g = inner
        .store
        .get(vmid)
        .cloned()
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    if g.conf.get("protection") == Some("1") {
        return Err(ApiError::msg(format!(
            "can't remove VM {vmid} - protection mode enabled"
        )));
    }
    if let Some(lock) = g.conf.get("lock").filter(|_| !skiplock) {
        return Err(ApiError::msg(format!("VM is locked ({lock})")));
    }
    if inner.rt(vmid).power != Power::Stopped {
        let what = if kind == Kind::Qemu { "VM" } else { "CT" };
        return Err(ApiError::msg(format!(
            "{what} {vmid} is running - destroy failed"
        )));
    }
    let task = if kind == Kind::Qemu {
        "qmdestroy"
    } else {
        "vzdestroy"
    };
    let node_name = node.to_string();
    let upid = spawn(
        cx,
        &mut inner,
        node,
        task,
        Some(vmid),
        &vmid.to_string(),
        0.8,
        Box::new(move |inner: &mut Inner, st: &State| {
            let Some(g) = inner.store.get(vmid).cloned() else {
                return Err(format!(
                    "Configuration file 'nodes/{node_name}/qemu-server/{vmid}.conf' does not exist"
                ));
            };
            let mut log = Vec::new();
            let mut volumes: Vec<String> = Vec::new();
            for section in std::iter::once(&g.conf.main).chain(g.conf.snapshots.values()) {
                for (k, v) in section {
                    if disks::is_drive_key(k)
                        && let Some(volid) = disks::volid_of(v)
                        && !volumes.iter().any(|x| x == volid)
                    {
                        volumes.push(volid.to_string());
                    }
                }
            }
            if unreferenced {
                let dir_storages = inner.storages.clone();
                for s in dir_storages.iter().filter(|s| s.path.is_some()) {
                    let dir = st
                        .cfg
                        .root
                        .join(s.path.unwrap_or_default())
                        .join("images")
                        .join(vmid.to_string());
                    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                        let volid = format!("{}:{vmid}/{}", s.id, e.file_name().to_string_lossy());
                        if !volumes
                            .iter()
                            .any(|v| v.ends_with(&format!("/{}", e.file_name().to_string_lossy())))
                        {
                            volumes.push(volid);
                        }
                    }
                }
            }
            for volid in volumes {
                let Some((sid, volname)) = disks::split_volid(&volid) else {
                    continue;
                };
                let Some(s) = inner.storage(sid).cloned() else {
                    continue;
                };
                // A template's base image may not go while linked clones use it (qemu-server
                // `destroy_vm`; never found on lvmthin, see `model::blocks`).
                if g.conf.is_template() && base_in_use(inner, &s, &g.node, vmid, &volid, volname) {
                    return Err(format!(
                        "base volume '{volid}' is still in use by linked cloned"
                    ));
                }
                let owned = volname.starts_with(&format!("{vmid}/"))
                    || blocks::owner(volname) == Some(vmid)
                    || volname.contains(&format!("/{vmid}/"));
                if owned {
                    disks::remove(&st.cfg.root, &s, &mut inner.blocks, &g.node, volname)
                        .map_err(|e| format!("unable to free volume '{volid}' - {e}"))?;
                    log.push(format!("Removed volume '{volid}'"));
                }
            }
            inner
                .store
                .remove(vmid)
                .map_err(|e| format!("unable to remove config - {e}"))?;
            inner.runtime.remove(&vmid);
            if purge {
                for p in inner.pools.values_mut() {
                    p.vms.retain(|v| *v != vmid);
                }
            }
            Ok(log)
        }),
    );
    ok(json!(upid))
}

/// `volume_is_base_and_used`: a file base is used when another guest's config names it as
/// its backing volume; a block base when a volume records it as parent.
fn base_in_use(
    inner: &Inner,
    storage: &Storage,
    node: &str,
    vmid: u32,
    volid: &str,
    volname: &str,
) -> bool {
    if blocks::is_block(storage) {
        return inner.blocks.is_base_and_used(storage, node, volname);
    }
    volname.starts_with(&format!("{vmid}/base-"))
        && inner.store.all().any(|(other, g)| {
            other != vmid
                && g.conf
                    .main
                    .values()
                    .any(|v| v.contains(&format!("{volid}/")))
        })
}
