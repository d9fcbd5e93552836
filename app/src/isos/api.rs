//! ISO server functions, under `/api/isos/*`. Each finds who is asking; `lab::isos` checks
//! which clusters they may touch.

use crate::AppError;
#[cfg(feature = "ssr")]
use lab::model::Role;
use lab::model::{IsoDownloadForm, IsoPage, IsoTransferView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::session::{require, services};

#[server(endpoint = "isos/list")]
pub async fn load_isos() -> Result<IsoPage, AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::isos::page(&services()?, &s.user).await?)
}

#[server(endpoint = "isos/download")]
pub async fn download_iso(form: IsoDownloadForm) -> Result<IsoTransferView, AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::isos::download(&services()?, &s.user, &form).await?)
}

/// `node` is empty for an ISO on a shared storage.
#[server(endpoint = "isos/delete")]
pub async fn delete_iso(
    cluster_id: i32,
    volid: String,
    #[server(default)] node: String,
) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let node = (!node.is_empty()).then_some(node.as_str());
    lab::isos::delete(&services()?, &s.user, cluster_id, &volid, node).await?;
    Ok(())
}

/// Reads the ISO lists of every cluster the person may manage again, now.
#[server(endpoint = "isos/refresh")]
pub async fn refresh_isos() -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::isos::refresh_for(&services()?, &s.user).await?)
}

/// The VM builder's lists: nodes with their storages and bridges, and the ISOs.
#[server(endpoint = "vms/build-options")]
pub async fn load_build_options() -> Result<lab::model::BuildPage, AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::builder::page(&services()?, &s.user).await?)
}

/// Builds a VM from an ISO; the person lands on its console (or, not started, on their VMs).
#[server(endpoint = "vms/build")]
pub async fn build_vm(form: lab::model::VmBuildForm) -> Result<lab::model::BuiltVm, AppError> {
    let s = require(Role::Teacher).await?;
    let built = lab::builder::build(&services()?, &s.user, &form).await?;
    if built.started {
        leptos_axum::redirect(&format!("/console/{}/{}", built.cluster_id, built.vmid));
    } else {
        leptos_axum::redirect(&format!("/?q={}", built.vmid));
    }
    Ok(built)
}

#[server(endpoint = "vms/hardware")]
pub async fn load_hardware(
    cluster_id: i32,
    vmid: i32,
) -> Result<lab::model::HardwareView, AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::builder::hardware::view(&services()?, &s.user, cluster_id, vmid).await?)
}

#[server(endpoint = "vms/hardware/size")]
pub async fn set_vm_size(
    cluster_id: i32,
    vmid: i32,
    cores: String,
    memory_mib: String,
) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    lab::builder::hardware::set_size(&services()?, &s.user, cluster_id, vmid, &cores, &memory_mib)
        .await?;
    Ok(())
}

#[server(endpoint = "vms/hardware/grow")]
pub async fn grow_vm_disk(cluster_id: i32, vmid: i32, add_gib: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    lab::builder::hardware::grow_disk(&services()?, &s.user, cluster_id, vmid, &add_gib).await?;
    Ok(())
}

/// `iso` empty: eject.
#[server(endpoint = "vms/hardware/cd")]
pub async fn set_vm_cd(
    cluster_id: i32,
    vmid: i32,
    #[server(default)] iso: String,
) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let iso = (!iso.is_empty()).then_some(iso.as_str());
    lab::builder::hardware::set_cd(&services()?, &s.user, cluster_id, vmid, iso).await?;
    Ok(())
}

/// Adds a network card (`key` empty) or changes one's model and bridge.
#[server(endpoint = "vms/hardware/nic")]
pub async fn set_vm_nic(
    cluster_id: i32,
    vmid: i32,
    #[server(default)] key: String,
    model: String,
    bridge: String,
) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    lab::builder::hardware::set_nic(
        &services()?,
        &s.user,
        cluster_id,
        vmid,
        &key,
        &model,
        &bridge,
    )
    .await?;
    Ok(())
}

#[server(endpoint = "vms/hardware/nic-remove")]
pub async fn remove_vm_nic(cluster_id: i32, vmid: i32, key: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    lab::builder::hardware::remove_nic(&services()?, &s.user, cluster_id, vmid, &key).await?;
    Ok(())
}

/// Makes the VM a template; the person goes on to the class wizard, where it is offered.
#[server(endpoint = "vms/hardware/template")]
pub async fn make_vm_template(cluster_id: i32, vmid: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    lab::builder::hardware::make_template(&services()?, &s.user, cluster_id, vmid).await?;
    leptos_axum::redirect("/classes/new");
    Ok(())
}

/// Copies a template (`cluster_id/vmid`) into a new VM of the person's; they land on their
/// VMs page, filtered to it.
#[server(endpoint = "vms/copy-template")]
pub async fn copy_template(
    template: String,
    name: String,
) -> Result<lab::model::BuiltVm, AppError> {
    let s = require(Role::Teacher).await?;
    let built = lab::builder::copy_template(&services()?, &s.user, &template, &name).await?;
    leptos_axum::redirect(&format!("/?q={}", built.vmid));
    Ok(built)
}
