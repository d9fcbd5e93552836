//! Class server functions, under `/api/classes/*`. Each finds who is asking; `lab::classes`
//! decides what they may see and do (others' classes are "not found").

use crate::AppError;
use lab::model::{
    ClassAbout, ClassDetail, ClassEdit, ClassForm, ClassPlan, ClassSummary, JoinView,
    TemplateChoice,
};
#[cfg(feature = "ssr")]
use lab::model::{Role, Vmid};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::session::{require, services};

#[server(endpoint = "classes")]
pub async fn list_classes() -> Result<Vec<ClassSummary>, AppError> {
    let s = require(Role::Student).await?;
    Ok(lab::classes::list(&services()?, &s.user).await?)
}

/// The wizard's lists: the templates, and the clusters (id, name, nodes).
pub type WizardLists = (Vec<TemplateChoice>, Vec<(i32, String, Vec<String>)>);

/// What the wizard offers: templates, and clusters with their nodes.
#[server(endpoint = "classes/choices")]
pub async fn wizard_choices() -> Result<WizardLists, AppError> {
    let s = require(Role::Teacher).await?;
    let services = services()?;
    Ok((
        lab::classes::templates(&services, &s.user).await?,
        lab::classes::targets(&services, &s.user).await?,
    ))
}

/// The review step; the form comes back with the plan so that Launch sends exactly it.
#[server(endpoint = "classes/plan")]
pub async fn plan_class(form: ClassForm) -> Result<(ClassForm, ClassPlan), AppError> {
    let s = require(Role::Teacher).await?;
    let plan = lab::classes::plan(&services()?, &s.user, &form).await?;
    Ok((form, plan))
}

#[server(endpoint = "classes/launch")]
pub async fn launch_class(form: ClassForm) -> Result<i32, AppError> {
    let s = require(Role::Teacher).await?;
    let id = lab::classes::launch(&services()?, &s.user, &form).await?;
    tracing::info!(by = %s.user.username, class = id, "class launched");
    leptos_axum::redirect(&format!("/classes/{id}"));
    Ok(id)
}

#[server(endpoint = "classes/detail")]
pub async fn load_class(id: i32) -> Result<ClassDetail, AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::classes::detail(&services()?, &s.user, id).await?)
}

#[server(endpoint = "classes/invite")]
pub async fn regenerate_invite(
    id: i32,
    #[server(default)] days: String,
) -> Result<String, AppError> {
    let s = require(Role::Teacher).await?;
    let days =
        match days.trim() {
            "" => None,
            d => Some(d.parse::<u32>().map_err(|_| {
                AppError::Invalid("Days: a whole number, or empty for never.".into())
            })?),
        };
    Ok(lab::classes::regenerate_invite(&services()?, &s.user, id, days).await?)
}

#[server(endpoint = "classes/invite/revoke")]
pub async fn revoke_invite(id: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::classes::revoke_invite(&services()?, &s.user, id).await?)
}

#[server(endpoint = "classes/delete")]
pub async fn delete_class(id: i32, #[server(default)] confirm: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    if confirm != "on" {
        return Err(AppError::Invalid(
            "Tick the box to confirm that every VM of the class is destroyed.".into(),
        ));
    }
    lab::classes::delete(&services()?, &s.user, id).await?;
    tracing::info!(by = %s.user.username, class = id, "class deletion queued");
    Ok(())
}

#[server(endpoint = "classes/publish")]
pub async fn publish_class(id: i32, #[server(default)] confirm: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    if confirm != "on" {
        return Err(AppError::Invalid(
            "Tick the box to confirm that student changes are discarded.".into(),
        ));
    }
    lab::classes::publish(&services()?, &s.user, id).await?;
    Ok(())
}

#[server(endpoint = "classes/cancel")]
pub async fn cancel_deploy(id: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::classes::cancel(&services()?, &s.user, id).await?)
}

#[server(endpoint = "join/view")]
pub async fn load_invite(token: String) -> Result<JoinView, AppError> {
    let s = require(Role::Student).await?;
    Ok(lab::classes::join_view(&services()?, &s.user, &token).await?)
}

#[server(endpoint = "join")]
pub async fn join_class(token: String) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    let (_, vmid) = lab::classes::join(&services()?, &s.user, &token).await?;
    tracing::info!(user = %s.user.username, vmid, "joined a class");
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "classes/co-owner/add")]
pub async fn add_co_owner(id: i32, username: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::classes::add_co_owner(&services()?, &s.user, id, &username).await?)
}

#[server(endpoint = "classes/co-owner/remove")]
pub async fn remove_co_owner(id: i32, username: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::classes::remove_co_owner(&services()?, &s.user, id, &username).await?)
}

/// A launched class's name, description and invite expiry (its teachers).
#[server(endpoint = "classes/edit")]
pub async fn edit_class(id: i32, form: ClassEdit) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    lab::classes::edit(&services()?, &s.user, id, &form).await?;
    tracing::info!(by = %s.user.username, class = id, "class edited");
    Ok(())
}

/// The class as its students see it (its students and its teachers).
#[server(endpoint = "classes/about")]
pub async fn load_class_about(id: i32) -> Result<ClassAbout, AppError> {
    let s = require(Role::Student).await?;
    Ok(lab::classes::about(&services()?, &s.user, id).await?)
}

#[server(endpoint = "classes/ssh")]
pub async fn set_class_ssh(id: i32, #[server(default)] enabled: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let enabled = matches!(enabled.as_str(), "on" | "true" | "1");
    Ok(lab::classes::set_ssh(&services()?, &s.user, id, enabled).await?)
}

#[server(endpoint = "classes/vm/assign")]
pub async fn give_vm(id: i32, vmid: i32, username: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    Ok(lab::classes::assign_student(&services()?, &s.user, id, vmid, &username).await?)
}

#[server(endpoint = "classes/vm/unassign")]
pub async fn take_vm(id: i32, vmid: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    Ok(lab::classes::unassign_student(&services()?, &s.user, id, vmid).await?)
}

#[server(endpoint = "classes/vm/remove")]
pub async fn remove_class_vm(id: i32, vmid: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    Ok(lab::classes::remove_vm(&services()?, &s.user, id, vmid).await?)
}

/// Makes a VM of the class's block that the class does not have (`vmid` 0: all of them) a
/// student VM of the class.
#[server(endpoint = "classes/adopt-vms")]
pub async fn adopt_vms(id: i32, vmid: i32) -> Result<usize, AppError> {
    let s = require(Role::Teacher).await?;
    Ok(lab::classes::adopt(&services()?, &s.user, id, vmid).await?)
}

#[server(endpoint = "classes/add-vms")]
pub async fn add_vms(id: i32, count: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let count = count
        .trim()
        .parse::<u32>()
        .map_err(|_| AppError::Invalid("How many VMs: a whole number.".into()))?;
    Ok(lab::classes::add_students(&services()?, &s.user, id, count).await?)
}

#[server(endpoint = "classes/specs")]
pub async fn change_specs(
    id: i32,
    #[server(default)] cores: String,
    #[server(default)] memory_mb: String,
) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let parse = |t: &str, what: &str| -> Result<Option<u32>, AppError> {
        match t.trim() {
            "" => Ok(None),
            v => v
                .parse()
                .map(Some)
                .map_err(|_| AppError::Invalid(format!("{what}: a whole number."))),
        }
    };
    let cores = parse(&cores, "CPU cores")?;
    let memory = parse(&memory_mb, "Memory")?;
    Ok(lab::classes::respec(&services()?, &s.user, id, cores, memory).await?)
}

#[server(endpoint = "classes/power")]
pub async fn power_class(id: i32, action: String) -> Result<usize, AppError> {
    let s = require(Role::Teacher).await?;
    let action = lab::model::VmAction::parse(&action)
        .ok_or_else(|| AppError::Invalid(format!("{action:?} is not a VM action.")))?;
    Ok(lab::classes::power_all(&services()?, &s.user, id, action).await?)
}

/// Admins: adopt a VMID block made elsewhere as a class.
/// Admins: VMID blocks that look like a class made elsewhere, to import.
#[server(endpoint = "classes/adoption")]
pub async fn adoption_candidates() -> Result<Vec<lab::model::AdoptionCandidate>, AppError> {
    let s = require(Role::Admin).await?;
    Ok(lab::classes::adoption_candidates(&services()?, &s.user).await?)
}

#[server(endpoint = "classes/import")]
pub async fn import_class(
    cluster_id: i32,
    vmid_base: String,
    name: String,
    teacher: String,
) -> Result<i32, AppError> {
    let s = require(Role::Admin).await?;
    let base = vmid_base
        .trim()
        .parse::<i32>()
        .map_err(|_| AppError::Invalid("VMID block: a number such as 1200.".into()))?;
    let id = lab::classes::import(&services()?, &s.user, cluster_id, base, &name, &teacher).await?;
    leptos_axum::redirect(&format!("/classes/{id}"));
    Ok(id)
}
