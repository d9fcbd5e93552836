//! Steps the job kinds share, below every kind: opening a class's node shell and API client
//! (`context`), the class's rows (`rows`), where disks come from and go (`disks`), and the VM
//! steps themselves (`make_vm`, `reimage`, `destroy`, `export`). No step imports a kind.

pub mod context;
pub mod destroy;
pub mod disks;
pub mod export;
pub mod make_vm;
pub mod reimage;
pub mod rows;
