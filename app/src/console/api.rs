//! What the console page needs to know before it connects (and what it shows instead when
//! it cannot): the VM's name and state, for a user who may use it.

use crate::AppError;
use lab::model::VmState;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleView {
    pub cluster_id: i32,
    pub vmid: i32,
    pub name: String,
    pub node: String,
    pub state: VmState,
    pub ip: Option<String>,
    /// QEMU guests have a screen; containers do not.
    pub has_screen: bool,
}

#[server(endpoint = "vms/console")]
pub async fn console_info(cluster_id: i32, vmid: i32) -> Result<ConsoleView, AppError> {
    use crate::session::{require, services};
    use lab::model::Vmid;
    let session = require(lab::model::Role::Student).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    let services = services()?;
    let vm = lab::inventory::usable_vm(&services, &session.user, cluster_id, vmid).await?;
    let now = lab::clock::now();
    Ok(ConsoleView {
        cluster_id,
        vmid,
        state: lab::inventory::state_of(&vm, now),
        has_screen: vm.kind == "qemu",
        name: vm.name,
        node: vm.node,
        ip: vm.ip,
    })
}
