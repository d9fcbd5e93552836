//! Policy server functions, under `/api/policies/*` and `/api/vms/*`. Each finds who is
//! asking; `lab::policies` checks what they may see and change (a class they manage; admins
//! for the site's defaults; a VM they may use for its warning and "I'm still here").

use crate::AppError;
use lab::model::{PolicyForm, PolicyNotice, PolicyPanel, ScheduleForm};
#[cfg(feature = "ssr")]
use lab::model::{Role, Vmid};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::session::{require, services};

#[server(endpoint = "policies/class")]
pub async fn load_policies(id: i32) -> Result<PolicyPanel, AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::policies::panel::class_panel(&services()?, &s.user, id).await?)
}

/// Saves the class's policies; `follow_site` ("on") goes back to the site's defaults.
#[server(endpoint = "policies/class/save")]
pub async fn save_policies(
    id: i32,
    form: PolicyForm,
    #[server(default)] follow_site: String,
) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let services = services()?;
    lab::policies::panel::save_class_policy(&services, &s.user, id, &form, follow_site == "on")
        .await?;
    tracing::info!(by = %s.user.username, class = id, "class policies saved");
    Ok(())
}

#[server(endpoint = "policies/schedule/add")]
pub async fn add_schedule(id: i32, form: ScheduleForm) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::policies::panel::add_schedule(&services()?, &s.user, id, &form).await?)
}

#[server(endpoint = "policies/schedule/delete")]
pub async fn delete_schedule(id: i32, schedule: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::policies::panel::delete_schedule(&services()?, &s.user, id, schedule).await?)
}

/// Hours for one student (`student` = their user id) or, with `student` empty, for all.
#[server(endpoint = "policies/hours/add")]
pub async fn add_hours(
    id: i32,
    #[server(default)] student: String,
    hours: String,
) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let hours = hours
        .trim()
        .parse::<u32>()
        .map_err(|_| AppError::Invalid("Hours: a whole number.".into()))?;
    let student = parse_student(&student)?;
    Ok(lab::policies::panel::add_hours(&services()?, &s.user, id, student, hours).await?)
}

#[server(endpoint = "policies/usage/reset")]
pub async fn reset_usage(id: i32, #[server(default)] student: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let student = parse_student(&student)?;
    Ok(lab::policies::panel::reset_usage(&services()?, &s.user, id, student).await?)
}

#[cfg(feature = "ssr")]
fn parse_student(text: &str) -> Result<Option<i32>, AppError> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse::<i32>()
            .map(Some)
            .map_err(|_| AppError::Invalid("Unknown student.".into())),
    }
}

/// The site's default policies (admins), and the zone they name.
#[server(endpoint = "policies/site")]
pub async fn site_policies() -> Result<(PolicyForm, String), AppError> {
    let s = require(Role::Admin).await?;
    Ok(lab::policies::panel::site_panel(&services()?, &s.user).await?)
}

#[server(endpoint = "policies/site/save")]
pub async fn save_site_policies(form: PolicyForm) -> Result<(), AppError> {
    let s = require(Role::Admin).await?;
    lab::policies::panel::save_site_defaults(&services()?, &s.user, &form).await?;
    tracing::info!(by = %s.user.username, "site policy defaults saved");
    Ok(())
}

/// The VM's current warning, with the server's time (the console and terminal tabs poll it;
/// their pages are not hydrated, so `notice.js` calls this endpoint itself).
#[server(endpoint = "vms/notice")]
pub async fn vm_notice(
    cluster_id: i32,
    vmid: i32,
) -> Result<(Option<PolicyNotice>, i64), AppError> {
    let s = require(Role::Student).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    let services = services()?;
    let notice = lab::policies::gate::notice(&services, &s.user, cluster_id, vmid).await?;
    Ok((notice, services.clock.now()))
}

/// "I'm still here": the idle clock starts again.
#[server(endpoint = "vms/still-here")]
pub async fn still_here(cluster_id: i32, vmid: i32) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    Ok(lab::policies::gate::still_here(&services()?, &s.user, cluster_id, vmid).await?)
}
