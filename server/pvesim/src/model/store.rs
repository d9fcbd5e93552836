//! The pmxcfs-like config tree: `etc/pve/nodes/<node>/{qemu-server,lxc}/<vmid>.conf` under the
//! simulator's root, cached in memory and invalidated by file changes.
//!
//! pmxcfs registers a VMID as soon as `<vmid>.conf` appears in a node's directory and drops
//! it when the file goes (proxmox/pve-cluster `memdb.c` `vmlist_register_vm`), so the files
//! are the truth and the cache is only an optimisation. An inotify watch on every config
//! directory reports created, written, renamed and deleted files; [`Store::refresh`] (called
//! at the start of every API call) re-reads only those, so 10 000 guests cost nothing per
//! call. Without inotify (or after an event-queue overflow) it falls back to a full sweep
//! that `stat`s each file and re-reads those whose size, mtime or inode changed, or whose
//! mtime is too close to when we read them to trust (the "racy git" rule: file timestamps
//! are coarser than two writes in a row).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use sha1::{Digest, Sha1};

use super::conf::Conf;

/// Guest flavour, which decides the config directory and the API subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Qemu,
    Lxc,
}

impl Kind {
    /// The `type` value in API answers (`qemu`/`lxc`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Qemu => "qemu",
            Kind::Lxc => "lxc",
        }
    }

    /// The per-node directory that holds this kind's configs.
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Kind::Qemu => "qemu-server",
            Kind::Lxc => "lxc",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Stamp {
    mtime: SystemTime,
    size: u64,
    ino: u64,
    read_at: SystemTime,
}

/// One guest config as last read from disk.
#[derive(Debug, Clone)]
pub(crate) struct GuestFile {
    pub node: String,
    pub kind: Kind,
    pub conf: Conf,
    /// SHA-1 hex of the raw file bytes, which is what PVE reports as `digest`.
    pub digest: String,
    /// Values every listing needs, derived once per file change.
    pub summary: Summary,
    stamp: Stamp,
}

/// Config-derived facts of a guest, computed when its file is read so that listings of
/// 10 000 guests do no per-key lookups.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub name: Option<String>,
    pub lock: Option<String>,
    pub tags: Option<String>,
    pub template: bool,
    pub limits: super::metrics::Limits,
}

impl Summary {
    fn of(kind: Kind, conf: &Conf) -> Self {
        let name_key = if kind == Kind::Qemu {
            "name"
        } else {
            "hostname"
        };
        Summary {
            name: conf.get(name_key).map(str::to_string),
            lock: conf.get("lock").map(str::to_string),
            tags: conf.get("tags").map(str::to_string),
            template: conf.is_template(),
            limits: super::metrics::limits(kind, conf),
        }
    }
}

/// The cached view of all guest config files.
#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
    nodes: Vec<String>,
    guests: BTreeMap<u32, GuestFile>,
    watch: Option<Watch>,
    /// A full sweep is needed (start, no inotify, or lost events).
    sweep: bool,
}

/// inotify state: the instance and which directory each watch covers.
#[derive(Debug)]
struct Watch {
    inotify: Inotify,
    dirs: std::collections::HashMap<WatchDescriptor, (String, Kind)>,
}

impl Watch {
    fn new(root: &Path, nodes: &[String]) -> io::Result<Self> {
        let inotify = Inotify::init()?;
        let mut dirs = std::collections::HashMap::new();
        let mask = WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MODIFY
            | WatchMask::CLOSE_WRITE
            | WatchMask::MOVED_TO
            | WatchMask::MOVED_FROM
            | WatchMask::DELETE_SELF;
        for node in nodes {
            for kind in [Kind::Qemu, Kind::Lxc] {
                let wd = inotify.watches().add(node_dir(root, node, kind), mask)?;
                dirs.insert(wd, (node.clone(), kind));
            }
        }
        Ok(Watch { inotify, dirs })
    }

    /// Drains pending events: the files touched, or `None` when events were lost.
    fn changes(&mut self) -> Option<Vec<(String, Kind, u32)>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.inotify.read_events(&mut buf) {
                Ok(events) => {
                    let mut any = false;
                    for e in events {
                        any = true;
                        if e.mask.contains(EventMask::Q_OVERFLOW)
                            || e.mask.contains(EventMask::DELETE_SELF)
                        {
                            return None;
                        }
                        let vmid = e.name.and_then(|n| n.to_str()).and_then(parse_conf_name);
                        if let (Some(vmid), Some((node, kind))) = (vmid, self.dirs.get(&e.wd)) {
                            out.push((node.clone(), *kind, vmid));
                        }
                    }
                    if !any {
                        return Some(out);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(out),
                Err(_) => return None,
            }
        }
    }
}

/// Timestamps closer than this to the moment we read a file are not trusted.
const RACY: Duration = Duration::from_millis(50);

impl Store {
    pub(crate) fn new(root: &Path, nodes: Vec<String>) -> io::Result<Self> {
        for node in &nodes {
            for kind in [Kind::Qemu, Kind::Lxc] {
                std::fs::create_dir_all(node_dir(root, node, kind))?;
            }
        }
        let watch = Watch::new(root, &nodes)
            .inspect_err(|e| tracing::warn!(error = %e, "no inotify; config files are re-scanned on every call"))
            .ok();
        Ok(Store {
            root: root.to_path_buf(),
            nodes,
            guests: BTreeMap::new(),
            watch,
            sweep: true,
        })
    }

    /// Path of a guest's config file.
    pub(crate) fn path(&self, node: &str, kind: Kind, vmid: u32) -> PathBuf {
        node_dir(&self.root, node, kind).join(format!("{vmid}.conf"))
    }

    /// The relative name PVE puts in "Configuration file '...' does not exist".
    pub(crate) fn rel_name(node: &str, kind: Kind, vmid: u32) -> String {
        format!("nodes/{node}/{}/{vmid}.conf", kind.dir())
    }

    /// Re-synchronises the cache with the files; returns the VMIDs that disappeared.
    pub(crate) fn refresh(&mut self) -> Vec<u32> {
        let changes = match &mut self.watch {
            Some(w) if !self.sweep => w.changes(),
            Some(w) => {
                // Events from before this sweep are covered by it.
                let _ = w.changes();
                None
            }
            None => None,
        };
        match changes {
            Some(list) => self.apply_changes(list),
            None => {
                self.sweep = self.watch.is_none();
                self.full_sweep()
            }
        }
    }

    /// Re-reads the files inotify reported.
    fn apply_changes(&mut self, list: Vec<(String, Kind, u32)>) -> Vec<u32> {
        let mut gone = Vec::new();
        for (node, kind, vmid) in list {
            let path = self.path(&node, kind, vmid);
            let owner_elsewhere = self.guests.get(&vmid).is_some_and(|g| {
                (g.node != node || g.kind != kind) && self.path(&g.node, g.kind, vmid).exists()
            });
            match read_guest(&path, &node, kind) {
                // pmxcfs refuses a second file for a registered VMID (EEXIST).
                Ok(_) if owner_elsewhere => {}
                Ok(file) => {
                    self.guests.insert(vmid, file);
                }
                Err(_) if !owner_elsewhere => {
                    if self.guests.remove(&vmid).is_some() {
                        gone.push(vmid);
                    }
                }
                Err(_) => {}
            }
        }
        gone
    }

    /// Lists every config directory and re-reads what changed.
    fn full_sweep(&mut self) -> Vec<u32> {
        let mut seen: BTreeMap<u32, ()> = BTreeMap::new();
        for node in self.nodes.clone() {
            for kind in [Kind::Qemu, Kind::Lxc] {
                let dir = node_dir(&self.root, &node, kind);
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    let Some(vmid) = name.to_str().and_then(parse_conf_name) else {
                        continue;
                    };
                    if seen.insert(vmid, ()).is_some() {
                        // pmxcfs refuses a second file for a registered VMID (EEXIST);
                        // the first one found keeps the VMID.
                        continue;
                    }
                    let Ok(meta) = entry.metadata() else { continue };
                    let stamp = stamp_of(&meta);
                    let fresh = self.guests.get(&vmid).is_some_and(|g| {
                        g.node == node && g.kind == kind && same(&g.stamp, &stamp)
                    });
                    if !fresh {
                        let path = dir.join(&name);
                        if let Ok(file) = read_guest(&path, &node, kind) {
                            self.guests.insert(vmid, file);
                        }
                    }
                }
            }
        }
        let gone: Vec<u32> = self
            .guests
            .keys()
            .filter(|v| !seen.contains_key(v))
            .copied()
            .collect();
        for vmid in &gone {
            self.guests.remove(vmid);
        }
        gone
    }

    /// Re-reads one guest's file if it changed (cheap path for single-guest calls).
    pub(crate) fn refresh_one(&mut self, vmid: u32) {
        let Some(g) = self.guests.get(&vmid) else {
            return;
        };
        let path = self.path(&g.node, g.kind, vmid);
        match std::fs::metadata(&path) {
            Ok(meta) if same(&g.stamp, &stamp_of(&meta)) => {}
            Ok(_) => {
                let (node, kind) = (g.node.clone(), g.kind);
                if let Ok(file) = read_guest(&path, &node, kind) {
                    self.guests.insert(vmid, file);
                }
            }
            Err(_) => {
                self.guests.remove(&vmid);
            }
        }
    }

    pub(crate) fn get(&self, vmid: u32) -> Option<&GuestFile> {
        self.guests.get(&vmid)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = (u32, &GuestFile)> {
        self.guests.iter().map(|(v, g)| (*v, g))
    }

    pub(crate) fn len(&self) -> usize {
        self.guests.len()
    }

    pub(crate) fn contains(&self, vmid: u32) -> bool {
        self.guests.contains_key(&vmid)
    }

    /// Writes a config the way PVE does (`<file>.tmp.<pid>` + rename) and updates the cache.
    pub(crate) fn write(
        &mut self,
        vmid: u32,
        node: &str,
        kind: Kind,
        conf: &Conf,
    ) -> io::Result<()> {
        let path = self.path(node, kind, vmid);
        let tmp = path.with_extension(format!("conf.tmp.{}", std::process::id()));
        std::fs::write(&tmp, conf.render())?;
        std::fs::rename(&tmp, &path)?;
        let file = read_guest(&path, node, kind)?;
        self.guests.insert(vmid, file);
        Ok(())
    }

    /// Moves a guest's config to another node's folder (a migration's last step: pmxcfs
    /// renames the file, so the VMID is never registered twice).
    pub(crate) fn relocate(&mut self, vmid: u32, target: &str) -> io::Result<()> {
        let Some(g) = self.guests.get(&vmid) else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such guest"));
        };
        let kind = g.kind;
        let to = self.path(target, kind, vmid);
        std::fs::rename(self.path(&g.node, kind, vmid), &to)?;
        let file = read_guest(&to, target, kind)?;
        self.guests.insert(vmid, file);
        Ok(())
    }

    /// Removes a guest's config file.
    pub(crate) fn remove(&mut self, vmid: u32) -> io::Result<()> {
        if let Some(g) = self.guests.remove(&vmid) {
            let path = self.path(&g.node, g.kind, vmid);
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

fn node_dir(root: &Path, node: &str, kind: Kind) -> PathBuf {
    root.join("etc/pve/nodes").join(node).join(kind.dir())
}

fn parse_conf_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".conf")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn stamp_of(meta: &std::fs::Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    Stamp {
        mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        size: meta.len(),
        ino: meta.ino(),
        read_at: SystemTime::now(),
    }
}

fn same(cached: &Stamp, now: &Stamp) -> bool {
    let racy = cached.mtime + RACY >= cached.read_at;
    !racy && cached.mtime == now.mtime && cached.size == now.size && cached.ino == now.ino
}

fn read_guest(path: &Path, node: &str, kind: Kind) -> io::Result<GuestFile> {
    let meta = std::fs::metadata(path)?;
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let conf = Conf::parse(&text);
    Ok(GuestFile {
        node: node.to_string(),
        kind,
        summary: Summary::of(kind, &conf),
        conf,
        digest: hex(&Sha1::digest(&bytes)),
        stamp: stamp_of(&meta),
    })
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
