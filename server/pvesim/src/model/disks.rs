//! Disk volumes as real files, named and laid out as pve-storage's dir plugin does:
//! `<storage path>/images/<vmid>/vm-<vmid>-disk-<N>.<fmt>`, `base-<vmid>-disk-<N>` for
//! templates, volume ids `local:100/vm-100-disk-0.qcow2` and, for linked clones,
//! `local:9000/base-9000-disk-0.qcow2/103/vm-103-disk-0.qcow2`
//! (proxmox/pve-storage `Plugin.pm`). Block volumes (`lvmthin`, `zfspool`, `rbd`) have no
//! file: these functions hand them to [`super::blocks`], which keeps their metadata.
//!
//! qcow2 files are made with the real `qemu-img`, with the options PVE 9 passes, so the
//! portal's own `qemu-img convert`/`create -b` work on them. Without `qemu-img` on the PATH
//! an empty placeholder file is written instead (a documented deviation).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::blocks::{self, BlockVolumes};
use super::storage::Storage;

/// Whether a config key holds a drive (the keys PVE allocates and frees volumes for).
pub(crate) fn is_drive_key(key: &str) -> bool {
    let numbered = |prefix: &str| {
        key.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    key == "efidisk0"
        || key == "tpmstate0"
        || key == "rootfs"
        || ["ide", "sata", "scsi", "virtio", "unused", "mp"]
            .iter()
            .any(|p| numbered(p))
}

/// The volume id of a drive value (`local:100/vm-100-disk-0.qcow2,size=32G` → the part
/// before the first comma), if it names a storage volume (not `none`, not a cdrom ISO).
pub(crate) fn volid_of(value: &str) -> Option<&str> {
    let first = value.split(',').next()?;
    if first == "none" || value.contains("media=cdrom") || !first.contains(':') {
        return None;
    }
    Some(first)
}

/// Splits `storage:volname`.
pub(crate) fn split_volid(volid: &str) -> Option<(&str, &str)> {
    volid.split_once(':')
}

/// File path of a volume on a file-based storage.
pub(crate) fn vol_path(root: &Path, storage: &Storage, volname: &str) -> Option<PathBuf> {
    let base = root.join(storage.path?);
    if let Some(iso) = volname.strip_prefix("iso/") {
        return Some(base.join("template/iso").join(iso));
    }
    if let Some(t) = volname.strip_prefix("vztmpl/") {
        return Some(base.join("template/cache").join(t));
    }
    // `<vmid>/<file>` or linked `<basevmid>/<basefile>/<vmid>/<file>`: the last two parts.
    let parts: Vec<&str> = volname.split('/').collect();
    match parts.as_slice() {
        [vmid, file] | [_, _, vmid, file] => Some(base.join("images").join(vmid).join(file)),
        _ => None,
    }
}

/// The next free disk number of a guest, given the volume ids it already references.
pub(crate) fn next_index<'a>(vmid: u32, used: impl Iterator<Item = &'a str>) -> u32 {
    let needle = format!("-{vmid}-disk-");
    used.filter_map(|v| {
        let pos = v.rfind(&needle)?;
        let tail = &v[pos + needle.len()..];
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    })
    .map(|n| n + 1)
    .max()
    .unwrap_or(0)
}

/// Allocates a new volume of `size` bytes and returns its volume id.
#[allow(clippy::too_many_arguments)]
pub(crate) fn alloc(
    root: &Path,
    storage: &Storage,
    block: &mut BlockVolumes,
    node: &str,
    vmid: u32,
    index: u32,
    format: &str,
    size: u64,
) -> io::Result<String> {
    if blocks::is_block(storage) {
        let name = block.alloc(storage, node, vmid, size);
        return Ok(format!("{}:{name}", storage.id));
    }
    let file = format!("vm-{vmid}-disk-{index}.{format}");
    let volid = format!("{}:{vmid}/{file}", storage.id);
    let path = vol_path(root, storage, &format!("{vmid}/{file}")).ok_or_else(bad_volid)?;
    std::fs::create_dir_all(path.parent().ok_or_else(bad_volid)?)?;
    if format == "qcow2" {
        let size_k = format!("{}K", size.div_ceil(1024).max(1));
        qemu_img(
            &[
                "create",
                "-f",
                "qcow2",
                "-o",
                "preallocation=off",
                path_str(&path)?,
                &size_k,
            ],
            &path,
            size,
        )?;
    } else {
        std::fs::File::create(&path)?.set_len(size)?;
    }
    Ok(volid)
}

/// Creates a linked clone of a base volume (a qcow2 overlay on file storages, a thin
/// snapshot or clone on block storages) and returns its volume id.
pub(crate) fn link(
    root: &Path,
    storage: &Storage,
    block: &mut BlockVolumes,
    node: &str,
    base_volname: &str,
    vmid: u32,
    index: u32,
) -> io::Result<String> {
    if blocks::is_block(storage) {
        let name = block
            .clone_linked(storage, node, base_volname, vmid)
            .map_err(io::Error::other)?;
        return Ok(format!("{}:{name}", storage.id));
    }
    let base_path = vol_path(root, storage, base_volname).ok_or_else(bad_volid)?;
    let base_file = base_volname.rsplit('/').next().ok_or_else(bad_volid)?;
    let base_vmid = base_volname.split('/').next().ok_or_else(bad_volid)?;
    let file = format!("vm-{vmid}-disk-{index}.qcow2");
    let dir = root
        .join(storage.path.ok_or_else(bad_volid)?)
        .join("images")
        .join(vmid.to_string());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(&file);
    let backing = format!("../{base_vmid}/{base_file}");
    if !base_path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("base volume '{base_volname}' missing"),
        ));
    }
    // As pve-storage does it: relative backing file, run from the new image's folder.
    let ok = Command::new("qemu-img")
        .current_dir(&dir)
        .args([
            "create", "-F", "qcow2", "-b", &backing, "-f", "qcow2", &file,
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        // No qemu-img: a stand-in with just enough qcow2 header (magic, version, backing
        // file offset and name) for the storage listing to find the parent.
        let mut head = vec![0u8; 512];
        head[..4].copy_from_slice(b"QFI\xfb");
        head[4..8].copy_from_slice(&3u32.to_be_bytes());
        head[8..16].copy_from_slice(&104u64.to_be_bytes());
        head[16..20].copy_from_slice(&(backing.len() as u32).to_be_bytes());
        let end = (104 + backing.len()).min(head.len());
        head[104..end].copy_from_slice(&backing.as_bytes()[..end - 104]);
        std::fs::write(&path, head)?;
    }
    Ok(format!(
        "{}:{base_vmid}/{base_file}/{vmid}/{file}",
        storage.id
    ))
}

/// Copies a volume into a new one of `vmid` (full clone) and returns its volume id.
#[allow(clippy::too_many_arguments)]
pub(crate) fn copy(
    root: &Path,
    src: &Storage,
    src_volname: &str,
    dst: &Storage,
    block: &mut BlockVolumes,
    node: &str,
    vmid: u32,
    index: u32,
    size: u64,
) -> io::Result<String> {
    if blocks::is_block(dst) {
        let used = used_bytes(root, src, block, node, src_volname).unwrap_or(size / 3);
        let name = block.copy_in(dst, node, vmid, size, used);
        return Ok(format!("{}:{name}", dst.id));
    }
    let format = "qcow2";
    let src_path = vol_path(root, src, src_volname);
    match (src_path, dst.path) {
        (Some(src_path), Some(_)) if src_path.exists() => {
            let file = format!("vm-{vmid}-disk-{index}.qcow2");
            let path = vol_path(root, dst, &format!("{vmid}/{file}")).ok_or_else(bad_volid)?;
            std::fs::create_dir_all(path.parent().ok_or_else(bad_volid)?)?;
            let ok = Command::new("qemu-img")
                .args([
                    "convert",
                    "-O",
                    "qcow2",
                    path_str(&src_path)?,
                    path_str(&path)?,
                ])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if !ok {
                std::fs::copy(&src_path, &path)?;
            }
            Ok(format!("{}:{vmid}/{file}", dst.id))
        }
        _ => alloc(root, dst, block, node, vmid, index, format, size),
    }
}

/// Bytes a volume holds: a file's allocated blocks, a block volume's thin usage.
pub(crate) fn used_bytes(
    root: &Path,
    storage: &Storage,
    block: &BlockVolumes,
    node: &str,
    volname: &str,
) -> Option<u64> {
    if blocks::is_block(storage) {
        return block.get(storage, node, volname).map(|v| v.used);
    }
    use std::os::unix::fs::MetadataExt;
    let path = vol_path(root, storage, volname)?;
    std::fs::metadata(path).ok().map(|m| m.blocks() * 512)
}

/// Renames `vm-<vmid>-disk-N` to `base-<vmid>-disk-N` (template conversion) and makes the
/// file read-only (PVE also sets `chattr +i`, which needs root and is not imitated).
pub(crate) fn to_base(
    root: &Path,
    storage: &Storage,
    block: &mut BlockVolumes,
    node: &str,
    volname: &str,
) -> io::Result<String> {
    if blocks::is_block(storage) {
        let name = block
            .make_base(storage, node, volname)
            .map_err(io::Error::other)?;
        return Ok(format!("{}:{name}", storage.id));
    }
    let new_name = volname.replacen("vm-", "base-", 1);
    if let (Some(from), Some(to)) = (
        vol_path(root, storage, volname),
        vol_path(root, storage, &new_name),
    ) && from.exists()
    {
        std::fs::rename(&from, &to)?;
        let mut perms = std::fs::metadata(&to)?.permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&to, perms)?;
    }
    Ok(format!("{}:{new_name}", storage.id))
}

/// Deletes a volume (a file, and its folder when empty), unless it is a base that linked
/// clones use.
pub(crate) fn remove(
    root: &Path,
    storage: &Storage,
    block: &mut BlockVolumes,
    node: &str,
    volname: &str,
) -> io::Result<()> {
    if blocks::is_block(storage) {
        return block.free(storage, node, volname).map_err(io::Error::other);
    }
    let Some(path) = vol_path(root, storage, volname) else {
        return Ok(());
    };
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}

/// The backing file a qcow2 header records (offset 8: u64 name offset, 16: u32 length),
/// which is how pve-storage finds a linked clone's parent.
pub(crate) fn qcow2_backing(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 20];
    f.read_exact(&mut head).ok()?;
    if &head[0..4] != b"QFI\xfb" {
        return None;
    }
    let off = u64::from_be_bytes(head[8..16].try_into().ok()?);
    let len = u32::from_be_bytes(head[16..20].try_into().ok()?) as usize;
    if off == 0 || len == 0 || len > 1023 {
        return None;
    }
    f.seek(SeekFrom::Start(off)).ok()?;
    let mut name = vec![0u8; len];
    f.read_exact(&mut name).ok()?;
    String::from_utf8(name).ok()
}

fn qemu_img(args: &[&str], path: &Path, size: u64) -> io::Result<()> {
    let ok = Command::new("qemu-img")
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        // No qemu-img: a placeholder, sparse at most 1 MiB, keeps the layout testable.
        std::fs::File::create(path)?.set_len(size.min(1 << 20))?;
    }
    Ok(())
}

fn path_str(path: &Path) -> io::Result<&str> {
    path.to_str().ok_or_else(bad_volid)
}

fn bad_volid() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "unable to parse volume name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_drive_key("scsi0") && is_drive_key("efidisk0") && !is_drive_key("scsihw"));
        assert_eq!(
            volid_of("local:100/vm-100-disk-0.qcow2,size=32G"),
            Some("local:100/vm-100-disk-0.qcow2")
        );
        assert_eq!(volid_of("local:iso/x.iso,media=cdrom"), None);
        let used = [
            "local:100/vm-100-disk-0.qcow2",
            "local:100/vm-100-disk-2.raw",
        ];
        assert_eq!(next_index(100, used.into_iter()), 3);
    }
}
