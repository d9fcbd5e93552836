//! `POST .../template`: sync checks (lock, snapshots, already a template, running), then a
//! task that renames `vm-<id>-disk-N` to `base-<id>-disk-N` and sets `template: 1`.

use serde_json::json;

use crate::api::Cx;
use crate::api::authn::require;
use crate::api::reply::{ApiError, ApiResult, ok};
use crate::api::tasks::spawn;
use crate::model::blocks::{self, Feature};
use crate::model::store::Kind;
use crate::model::{Inner, Power, State, disks};

pub(crate) fn template(cx: &Cx, node: &str, kind: Kind, vmid: u32) -> ApiResult {
    let mut inner = cx.st.lock();
    require(&inner, &cx.ident, &format!("/vms/{vmid}"), "VM.Allocate")?;
    let g = inner
        .store
        .get(vmid)
        .cloned()
        .ok_or_else(|| ApiError::msg("config vanished"))?;
    // qemu-server `template` (`API2/Qemu.pm`): lock, snapshots, template, running, in order.
    if let Some(lock) = g.conf.get("lock") {
        return Err(ApiError::msg(format!("VM is locked ({lock})")));
    }
    if !g.conf.snapshots.is_empty() {
        return Err(ApiError::msg(
            "unable to create template, because VM contains snapshots",
        ));
    }
    if g.conf.is_template() {
        return Err(ApiError::msg("you can't convert a template to a template"));
    }
    if inner.rt(vmid).power != Power::Stopped {
        return Err(ApiError::msg(
            "you can't convert a VM to template if VM is running",
        ));
    }
    let job = Box::new(
        move |inner: &mut Inner, st: &State| -> Result<Vec<String>, String> {
            let g = inner.store.get(vmid).cloned().ok_or("config vanished")?;
            let mut conf = g.conf.clone();
            let mut log = Vec::new();
            for (key, value) in g
                .conf
                .main
                .iter()
                .filter(|(k, _)| disks::is_drive_key(k) && !k.starts_with("unused"))
            {
                let Some(volid) = disks::volid_of(value) else {
                    continue;
                };
                let Some((sid, volname)) = disks::split_volid(volid) else {
                    continue;
                };
                if volname
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with("base-"))
                {
                    continue;
                }
                let storage = inner
                    .storage(sid)
                    .cloned()
                    .ok_or_else(|| format!("storage '{sid}' does not exist"))?;
                // `template_create` passes over volumes whose storage cannot hold a base
                // (plain LVM).
                if !blocks::has_feature(storage.plugintype, volname, Feature::Template, false) {
                    continue;
                }
                let new_volid =
                    disks::to_base(&st.cfg.root, &storage, &mut inner.blocks, &g.node, volname)
                        .map_err(|e| format!("rename failed: {e}"))?;
                log.push(format!("renamed {volid} to {new_volid}"));
                let rest: Vec<&str> = value.split(',').skip(1).collect();
                let mut parts = vec![new_volid];
                parts.extend(rest.iter().map(|s| s.to_string()));
                conf.main.insert(key.clone(), parts.join(","));
            }
            conf.main.insert("template".into(), "1".into());
            inner
                .store
                .write(vmid, &g.node, g.kind, &conf)
                .map_err(|e| e.to_string())?;
            Ok(log)
        },
    );
    let task = if kind == Kind::Qemu {
        "qmtemplate"
    } else {
        "vztemplate"
    };
    let upid = spawn(
        cx,
        &mut inner,
        node,
        task,
        Some(vmid),
        &vmid.to_string(),
        1.0,
        job,
    );
    ok(json!(upid))
}
