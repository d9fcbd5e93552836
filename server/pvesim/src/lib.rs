//! # pvesim: a Proxmox VE 8/9 API simulator
//!
//! The other side of the wire for Proxlab's tests, benchmarks and demo mode: an HTTPS server
//! that answers `/api2/json` the way `pveproxy`/`pvedaemon` do, over a cluster whose guest
//! configs are real files in a pmxcfs-like tree. It shares no types with `lab` on purpose:
//! shared types would hide mismatches between client and server.
//!
//! ```no_run
//! let dir = tempfile::tempdir().unwrap();
//! let sim = pvesim::Sim::start(pvesim::SimConfig::for_tests(dir.path())).unwrap();
//! println!("{} pinned {}", sim.api_url(), sim.fingerprint());
//! sim.control().set_node_state("pve2", pvesim::NodeState::Offline);
//! ```
//!
//! ## Fidelity decisions (what is reproduced)
//! * **Envelope**: `{"data":...}`; errors `{"data":null,"message":"...\n"}` (+`errors` for
//!   400) with the first line of the message as the HTTP reason phrase; `message` can be
//!   switched off to imitate libpve-http-server < 5.2.0; `total` beside `data` for task
//!   lists/logs; headers `Server: pve-api-daemon/3.0` etc.; `Connection: close` on >= 400.
//! * **Status codes**: 400 for schema errors, 401 with empty body from the auth layer
//!   (`No ticket`, `Authentication failed!`, `Permission denied - invalid csrf token`,
//!   pve-manager >= 9.1.5 wording), JSON 401 `authentication failure` for bad logins, 403
//!   `Permission check failed (path, priv)`, 500 for business errors (no 404 for missing
//!   guests: `Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist`), 501 for
//!   unknown paths/methods and for DELETE bodies (plain text), 595/596 with empty body for
//!   calls to offline / hanging nodes; every 401 delayed (3 s by default, configurable).
//! * **Auth**: ticket `PVE:<user>:<HEX>::<344 base64 chars>`, CSRF `<HEX>:<43 chars>`, 2 h
//!   lifetime, renewal with the ticket as password, CSRF on non-GET for tickets only,
//!   `PVEAPIToken=user@realm!id=secret` (also with a space), tokens refused on
//!   `/access/ticket` with PVE's 403 text.
//! * **Typing quirks**: booleans 0/1, `/cluster/nextid` a string, `loadavg` strings,
//!   `memory`/`cpulimit` strings in configs, integer config keys numbers, `vncwebsocket`'s
//!   `port` a string, `/cluster/resources` guests ordered by VMID *as strings*.
//! * **Config files**: `etc/pve/nodes/<node>/{qemu-server,lxc}/<vmid>.conf` in the real
//!   format (description `#` lines, sorted keys, `[snapshot]` sections with `parent`,
//!   `snaptime`, `vmstate`), `digest` = SHA-1 of the file, written as `.tmp.<pid>` + rename.
//!   Files created, edited, renamed or deleted by anyone are seen on the next call, as
//!   pmxcfs registers them: the parsed configs are cached and invalidated by inotify events
//!   (full `stat` sweep as fallback), so no call re-reads all files (see `model::store`).
//!   Disks on file storages are real files (`qemu-img` for qcow2) named as pve-storage
//!   does; templates rename to `base-`, linked clones use backing files, and storage content
//!   derives a linked clone's volid and `parent` from the qcow2 header.
//! * **Storages**: a stock node's `local` (dir) and `local-lvm` (lvmthin), plus what
//!   [`SimConfig::extra_storages`] adds: `local-zfs` (zfspool), `ceph` (rbd, shared),
//!   `vmdata` (plain lvm), `shared`/`isos` (nfs). Block volumes follow pve-storage 9.1
//!   (`LvmThinPlugin.pm`, `ZFSPoolPlugin.pm`, `RBDPlugin.pm`, `LVMPlugin.pm`, `Storage.pm`;
//!   see `model::blocks`): `vm-`/`base-` names, thin usage in `status` and `content`,
//!   linked clones only from a base (`Linked clone feature is not supported for
//!   'local-lvm:vm-100-disk-0' (scsi0)`), zfs/rbd clones named `base-100-disk-0/vm-101-disk-0`
//!   with `parent` `base-100-disk-0@__base__`, a base with zfs/rbd clones not destroyable
//!   (`base volume '...' is still in use by linked cloned`) while lvmthin lets it go, plain
//!   LVM holding no templates. Clones check `VM.Clone` on the source and
//!   `Datastore.AllocateSpace` on each storage written to, refuse another node for a guest on
//!   local storage (`can't clone VM to node 'pve2' (VM uses local storage)`), and run as long
//!   as the copy takes (full: 1 s + used bytes at 400 MiB/s; linked: 1 s + 0.5 s per disk).
//! * **Scale**: `/cluster/resources` with 10 000 guests answers in about 40 ms (release
//!   build, measured with curl over a kept-alive TLS connection on the 2-core dev machine
//!   while it was busy with other builds); guests are serialised as typed structs.
//! * **Tasks**: UPIDs in PVE's format (tokens' `user@realm!id` inside), realistic durations
//!   (scaled by `task_time_scale`), `status` `running`/`stopped` + `exitstatus`, logs ending
//!   `TASK OK`/`TASK ERROR: ...`; sync 500s where PVE checks before forking (reboot/reset/
//!   suspend/resume of a stopped VM, destroying a running VM, duplicate create/clone,
//!   template of a running VM), task failures where PVE fails in the worker (`VM 100 already
//!   running`, templates cannot start, snapshot name in use). Tasks hold the config flock, so
//!   writes wait and time out with PVE's `can't lock file ...` message.
//! * **Agent**: `No QEMU guest agent configured`, `VM n is not running`, and `QEMU guest
//!   agent is not running` after the 3 s ping timeout; the agent answers only after a boot
//!   delay following start (so IPs appear late, as in real guests).
//! * **Permissions** (proxmox/pve-access-control `AccessControl.pm` `roles`,
//!   `RPCEnvironment.pm` `permissions`/`$compile_acl_path`; see `model::perms`): ACL entries
//!   on paths (`/`, `/vms/100`, `/pool/lab-a`, `/access/groups`, ...) with `propagate`;
//!   per level, token entries beat user entries beat group entries, a deeper level replaces
//!   what is inherited, `NoAccess` wins; roles on `/pool/<pool>` reach the pool's guests and
//!   storages; `root@pam` holds everything; a `privsep=1` token holds its own ACL privileges
//!   ∩ its user's, a `privsep=0` token its user's. Roles are PVE's generated ones (lists
//!   per version: 8.4 has `VM.Monitor`, 9 the `VM.GuestAgent.*` privileges and
//!   `VM.Replicate`) plus custom ones (`/access/roles`). The seed: group `admin` has
//!   `Administrator` on `/`, groups `students` and `teachers` the custom role `LabUser`
//!   (`VM.Audit`, `VM.Console`, `VM.PowerMgmt`) on `/vms`. Each endpoint checks what its
//!   PVE `permissions` declare (`403 Permission check failed (/vms/100, VM.PowerMgmt)`,
//!   `(/access/groups, Sys.Audit|Group.Allocate)`, or bare `Permission check failed` for
//!   `userid-group` and `or` tests); the login `cap` is `compute_api_permission`'s, and
//!   `clustername` needs `Sys.Audit` on `/`. `/access/users`, `/access/groups` and
//!   `/access/acl` list only what the caller may see. `GET /access/permissions` answers
//!   `{"/vms": {"VM.Audit": 1, ...}, ...}` (values are propagate flags, `0` or `1`).
//!   `GET /access/groups/{groupid}` answers `{"members": ["student1@pve", ...],
//!   "comment": "Course 2026"}` (no `comment` key without one), needs `Sys.Audit` or
//!   `Group.Allocate` on `/access/groups` (`403 Permission check failed (/access/groups,
//!   Sys.Audit|Group.Allocate)`), and an unknown group is `500 group 'x' does not exist`.
//! * **Consoles**: vncproxy/termproxy tickets (40 s, bound to authid, path, port),
//!   `vncwebsocket` with the caller's identity, RFB 3.8 with VNC auth (bit-reversed DES key,
//!   password = ticket or the 9.1.7 `password`), termproxy's `user:ticket\n` → `OK` handshake
//!   and `0:len:data` / `1:cols:rows:` / `2` framing.
//!
//! ## Known deviations (PVE behaviour not modelled)
//! * Ticket and VNC-ticket signatures are keyed SHA-256, not RSA (same length and alphabet).
//! * Privileges: see *Permissions* above for what is evaluated. Lists outside `/access`
//!   (`/cluster/resources`, guest, node, storage and task lists, `/pools`) are not filtered
//!   by privilege; create does not check `Datastore.AllocateSpace` on its storages, and
//!   neither create nor clone checks `SDN.Use` on bridges; config edits check one privilege per key, not
//!   qemu-server's full `check_vm_modify_config_perm` (e.g. no `VM.Config.CDROM` nuance).
//!   Nested pools are not modelled. No TFA, no `path`/`privs` login mode, no realm sync.
//! * `[PENDING]` is modelled for QEMU guests with PVE's default `hotplug` (network, disk,
//!   usb) and its "fast plug" options; CPU/memory hotplug settings are not evaluated, and
//!   LXC changes apply at once.
//! * One HTTPS endpoint plays every node (it is `pve1`, whose `ssl_fingerprint` is the real
//!   one); calls are not proxied; console workers run locally; the 10 s accept window of
//!   console workers is not enforced. Node IPs are reported as `127.0.0.1` (configurable).
//! * Node-local `local` storage shares one `var/lib/vz` folder on the simulator's disk;
//!   its content listing is filtered to the guests on the asked node. Block volumes are
//!   metadata kept in memory: after a restart on an existing root only those a config names
//!   come back. Snapshots change configs only (no `qemu-img snapshot`), vmstate files
//!   are not written. Without `qemu-img` on PATH, placeholder files replace qcow2 images.
//! * Seeded ordinary guests get real disk files only with `SeedDisks::All` (the binary uses
//!   it up to 200 VMs); API-created and cloned guests always do.
//! * Usage figures are deterministic waves, not measurements; `rrddata` is computed, not
//!   stored; `cf=MAX` equals `AVERAGE`.
//! * HA is metadata only (`hastate`, `ha.managed`; VM 102 of the fixture world); no HA
//!   manager acts on it, and destroy does not check HA resources.
//! * Guest IPs are synthetic (`10.20.x.y` derived from the VMID); MACs come from the config.
//! * Shutdown always succeeds (no ACPI timeout simulation); `forceStop`, `timeout` and
//!   migration parameters are accepted and ignored.
//! * Migration is offline only (`api::migrate`: a stopped VM or template, local disks copied
//!   to the target node); live migration answers 501. Backup/restore, HA, SDN/firewall
//!   endpoints, `agent/file-*` payloads,
//!   `/api2/extjs` and gzip are not implemented (501 like any unknown path).
//! * `download-url` fetches with reqwest in the simulator's process (no proxy settings, no
//!   `compression`); MD5 checksums are refused (no MD5 here). `upload` spools the multipart
//!   body as pveproxy does (to `<root>/var-tmp/pveupload-*` instead of `/var/tmp`) and takes
//!   `content=iso` only (`vztmpl` and `import` answer 501); `assert_iso_content` is not run.
//! * HTTP/1.1 keep-alive follows hyper (no 5 s idle timeout, no 3-worker limit).

mod api;
mod auth;
mod config;
mod console;
mod control;
mod error;
mod model;
mod server;
mod sim;
mod tls;

pub use config::{ExtraStorage, Profile, PveVersion, SeedDisks, SimConfig};
pub use control::Control;
pub use error::Error;
pub use model::{AgentMode, NodeState};
pub use sim::Sim;
pub use tls::fingerprint;
