//! Snapshot server functions, under `/api/snapshots/*`. Each finds who is asking;
//! `lab::snapshots` checks that they may see or change that VM's snapshots.

use crate::AppError;
use lab::model::SnapshotPage;
#[cfg(feature = "ssr")]
use lab::model::{Role, Vmid};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::session::{require, services};

#[cfg(feature = "ssr")]
fn vmid(vmid: i32) -> Result<i32, AppError> {
    Ok(Vmid::new(vmid).map_err(AppError::Invalid)?.get())
}

#[server(endpoint = "snapshots/list")]
pub async fn load_snapshots(cluster_id: i32, vmid: i32) -> Result<SnapshotPage, AppError> {
    let s = require(Role::Student).await?;
    let vmid = self::vmid(vmid)?;
    Ok(lab::snapshots::page(&services()?, &s.user, cluster_id, vmid).await?)
}

/// `vmstate` ("on"): save the VM's memory too.
#[server(endpoint = "snapshots/take")]
pub async fn take_snapshot(
    cluster_id: i32,
    vmid: i32,
    name: String,
    #[server(default)] description: String,
    #[server(default)] vmstate: String,
) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    let vmid = self::vmid(vmid)?;
    let services = services()?;
    let ram = vmstate == "on";
    lab::snapshots::take(
        &services,
        &s.user,
        cluster_id,
        vmid,
        &name,
        &description,
        ram,
    )
    .await?;
    tracing::info!(by = %s.user.username, cluster_id, vmid, "snapshot requested");
    Ok(())
}

#[server(endpoint = "snapshots/rollback")]
pub async fn rollback_snapshot(cluster_id: i32, vmid: i32, name: String) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    let vmid = self::vmid(vmid)?;
    lab::snapshots::rollback(&services()?, &s.user, cluster_id, vmid, &name).await?;
    tracing::info!(by = %s.user.username, cluster_id, vmid, "snapshot rollback requested");
    Ok(())
}

#[server(endpoint = "snapshots/delete")]
pub async fn delete_snapshot(cluster_id: i32, vmid: i32, name: String) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    let vmid = self::vmid(vmid)?;
    lab::snapshots::delete(&services()?, &s.user, cluster_id, vmid, &name).await?;
    Ok(())
}

#[server(endpoint = "snapshots/refresh")]
pub async fn refresh_snapshots(cluster_id: i32, vmid: i32) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    let vmid = self::vmid(vmid)?;
    lab::snapshots::refresh(&services()?, &s.user, cluster_id, vmid).await?;
    Ok(())
}

/// How many snapshots each student of class `id` may keep (0: none).
#[server(endpoint = "snapshots/class-limit")]
pub async fn set_student_snapshots(id: i32, limit: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let limit: i32 = limit
        .trim()
        .parse()
        .map_err(|_| AppError::Invalid("Snapshots per student VM: a whole number.".into()))?;
    lab::snapshots::set_student_limit(&services()?, &s.user, id, limit).await?;
    Ok(())
}
