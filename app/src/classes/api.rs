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
use crate::audited::audited;
#[cfg(feature = "ssr")]
use crate::session::{require, services};
#[cfg(feature = "ssr")]
use lab::audit::Entry;
#[cfg(feature = "ssr")]
use lab::model::AuditAction;

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
    let result = lab::classes::launch(&services()?, &s.user, &form).await;
    let mut entry = Entry::by(&s.user, AuditAction::ClassCreated).detail(format!(
        "{} students from template {}",
        form.students.trim(),
        form.template_vmid.trim()
    ));
    entry = match &result {
        Ok(id) => entry.class(*id),
        Err(_) => entry.object(format!("class {}", form.name.trim())),
    };
    let id = audited(entry, result).await?;
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
    let result = lab::classes::regenerate_invite(&services()?, &s.user, id, days).await;
    let entry = Entry::by(&s.user, AuditAction::InviteRenewed)
        .class(id)
        .detail(match days {
            Some(d) => format!("valid {d} days"),
            None => "never expires".into(),
        });
    audited(entry, result).await
}

#[server(endpoint = "classes/invite/revoke")]
pub async fn revoke_invite(id: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let result = lab::classes::revoke_invite(&services()?, &s.user, id).await;
    let entry = Entry::by(&s.user, AuditAction::InviteRenewed)
        .class(id)
        .detail("revoked");
    audited(entry, result).await
}

#[server(endpoint = "classes/delete")]
pub async fn delete_class(id: i32, #[server(default)] confirm: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    if confirm != "on" {
        return Err(AppError::Invalid(
            "Tick the box to confirm that every VM of the class is destroyed.".into(),
        ));
    }
    let result = lab::classes::delete(&services()?, &s.user, id).await;
    audited(
        Entry::by(&s.user, AuditAction::ClassDeleted).class(id),
        result,
    )
    .await
}

#[server(endpoint = "classes/publish")]
pub async fn publish_class(id: i32, #[server(default)] confirm: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    if confirm != "on" {
        return Err(AppError::Invalid(
            "Tick the box to confirm that student changes are discarded.".into(),
        ));
    }
    let result = lab::classes::publish(&services()?, &s.user, id).await;
    audited(
        Entry::by(&s.user, AuditAction::ClassPublished).class(id),
        result,
    )
    .await
}

#[server(endpoint = "classes/cancel")]
pub async fn cancel_deploy(id: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let result = lab::classes::cancel(&services()?, &s.user, id).await;
    let entry = Entry::by(&s.user, AuditAction::ClassChanged)
        .class(id)
        .detail("deployment cancelled");
    audited(entry, result).await
}

#[server(endpoint = "join/view")]
pub async fn load_invite(token: String) -> Result<JoinView, AppError> {
    let s = require(Role::Student).await?;
    Ok(lab::classes::join_view(&services()?, &s.user, &token).await?)
}

#[server(endpoint = "join")]
pub async fn join_class(token: String) -> Result<(), AppError> {
    let s = require(Role::Student).await?;
    let result = lab::classes::join(&services()?, &s.user, &token).await;
    let entry = match &result {
        Ok((class_id, vmid)) => Entry::by(&s.user, AuditAction::ClassJoined)
            .class(*class_id)
            .detail(format!("got VM {vmid}")),
        Err(_) => Entry::by(&s.user, AuditAction::ClassJoined).object("an invite"),
    };
    audited(entry, result).await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "classes/co-owner/add")]
pub async fn add_co_owner(id: i32, username: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let result = lab::classes::add_co_owner(&services()?, &s.user, id, &username).await;
    let entry = Entry::by(&s.user, AuditAction::ClassChanged)
        .class(id)
        .detail(format!("co-teacher {} added", username.trim()));
    audited(entry, result).await
}

#[server(endpoint = "classes/co-owner/remove")]
pub async fn remove_co_owner(id: i32, username: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let result = lab::classes::remove_co_owner(&services()?, &s.user, id, &username).await;
    let entry = Entry::by(&s.user, AuditAction::ClassChanged)
        .class(id)
        .detail(format!("co-teacher {} removed", username.trim()));
    audited(entry, result).await
}

/// A launched class's name, description and invite expiry (its teachers).
#[server(endpoint = "classes/edit")]
pub async fn edit_class(id: i32, form: ClassEdit) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let result = lab::classes::edit(&services()?, &s.user, id, &form).await;
    let entry = Entry::by(&s.user, AuditAction::ClassChanged)
        .class(id)
        .detail("name, description or invite expiry");
    audited(entry, result).await
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
    let result = lab::classes::set_ssh(&services()?, &s.user, id, enabled).await;
    let entry = Entry::by(&s.user, AuditAction::ClassChanged)
        .class(id)
        .detail(if enabled {
            "SSH through the portal on"
        } else {
            "SSH through the portal off"
        });
    audited(entry, result).await
}

#[server(endpoint = "classes/vm/assign")]
pub async fn give_vm(id: i32, vmid: i32, username: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    let result = lab::classes::assign_student(&services()?, &s.user, id, vmid, &username).await;
    let entry = Entry::by(&s.user, AuditAction::VmsAssigned)
        .class(id)
        .vmid(vmid)
        .detail(format!("VM {vmid} to {}", username.trim()));
    audited(entry, result).await
}

#[server(endpoint = "classes/vm/unassign")]
pub async fn take_vm(id: i32, vmid: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    let result = lab::classes::unassign_student(&services()?, &s.user, id, vmid).await;
    let entry = Entry::by(&s.user, AuditAction::VmsAssigned)
        .class(id)
        .vmid(vmid)
        .detail(format!("VM {vmid} taken back"));
    audited(entry, result).await
}

#[server(endpoint = "classes/vm/remove")]
pub async fn remove_class_vm(id: i32, vmid: i32) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let vmid = Vmid::new(vmid).map_err(AppError::Invalid)?.get();
    let result = lab::classes::remove_vm(&services()?, &s.user, id, vmid).await;
    let entry = Entry::by(&s.user, AuditAction::ClassChanged)
        .class(id)
        .vmid(vmid)
        .detail(format!("VM {vmid} removed"));
    audited(entry, result).await
}

/// Makes a VM of the class's block that the class does not have (`vmid` 0: all of them) a
/// student VM of the class.
#[server(endpoint = "classes/adopt-vms")]
pub async fn adopt_vms(id: i32, vmid: i32) -> Result<usize, AppError> {
    let s = require(Role::Teacher).await?;
    let result = lab::classes::adopt(&services()?, &s.user, id, vmid).await;
    let entry = Entry::by(&s.user, AuditAction::ClassChanged)
        .class(id)
        .detail(match vmid {
            0 => "all its strays adopted".to_string(),
            v => format!("VM {v} adopted"),
        });
    audited(entry, result).await
}

#[server(endpoint = "classes/add-vms")]
pub async fn add_vms(id: i32, count: String) -> Result<(), AppError> {
    let s = require(Role::Teacher).await?;
    let count = count
        .trim()
        .parse::<u32>()
        .map_err(|_| AppError::Invalid("How many VMs: a whole number.".into()))?;
    let result = lab::classes::add_students(&services()?, &s.user, id, count).await;
    let entry = Entry::by(&s.user, AuditAction::ClassChanged)
        .class(id)
        .detail(format!("{count} VMs added"));
    audited(entry, result).await
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
    let result = lab::classes::respec(&services()?, &s.user, id, cores, memory).await;
    let entry = Entry::by(&s.user, AuditAction::ClassChanged)
        .class(id)
        .detail(format!(
            "VM size: {} cores, {} MB",
            cores.map_or("same".into(), |c| c.to_string()),
            memory.map_or("same".into(), |m| m.to_string())
        ));
    audited(entry, result).await
}

#[server(endpoint = "classes/power")]
pub async fn power_class(id: i32, action: String) -> Result<usize, AppError> {
    let s = require(Role::Teacher).await?;
    let action = lab::model::VmAction::parse(&action)
        .ok_or_else(|| AppError::Invalid(format!("{action:?} is not a VM action.")))?;
    let result = lab::classes::power_all(&services()?, &s.user, id, action).await;
    let entry = Entry::by(&s.user, AuditAction::VmPower)
        .class(id)
        .detail(format!("{} every VM of the class", action.as_str()));
    audited(entry, result).await
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
    let result =
        lab::classes::import(&services()?, &s.user, cluster_id, base, &name, &teacher).await;
    let entry = match &result {
        Ok(id) => Entry::by(&s.user, AuditAction::ClassCreated).class(*id),
        Err(_) => {
            Entry::by(&s.user, AuditAction::ClassCreated).object(format!("class {}", name.trim()))
        }
    }
    .detail(format!(
        "imported from VMIDs {base}…, teacher {}",
        teacher.trim()
    ));
    let id = audited(entry, result).await?;
    leptos_axum::redirect(&format!("/classes/{id}"));
    Ok(id)
}
