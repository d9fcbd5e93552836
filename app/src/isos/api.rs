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
