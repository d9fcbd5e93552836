//! Steps the job kinds share, below every kind: opening a class's node shell and API client
//! (`context`), the class's rows (`rows`), where disks come from and go (`disks`), and the VM
//! steps themselves (`make_vm`, `reimage`, `destroy`, `export` over a node shell; `clone_vm`
//! through Proxmox's clone API, with `owner` telling our VMs from anyone else's, and
//! `by_base` making a clone class's bases and their students node by node). No step imports a kind.

pub mod attempts;
pub mod by_base;
pub mod clone_vm;
pub mod context;
pub mod destroy;
pub mod disks;
pub mod export;
pub mod fan_out;
pub mod make_vm;
pub mod owner;
pub mod reimage;
pub mod rows;
