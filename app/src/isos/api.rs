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
