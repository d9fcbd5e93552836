//! Classes as the teacher's pages see them: the wizard's form and plan, the class page with
//! per-VM deployment progress, and the invite (join) page.

use super::{DeployMethod, JobKind, VmRole, VmState, VmStep};
use serde::{Deserialize, Serialize};

/// Most student VMs a class can have (VMIDs `P01..=P98`).
pub const MAX_STUDENTS: u32 = 98;

/// Roles of a VM in a class and their offset in the VMID block: the teacher's VM first,
/// students from 1 up, the class base last. Copies of the base on other nodes (a class on
/// node-local storage spread over nodes) take the free offsets from 98 down.
pub const TEACHER_OFFSET: i32 = 0;
pub const BASE_OFFSET: i32 = 99;

/// The Proxmox resource pool a clone class's VMs join, so Proxmox's own tree shows each
/// class together (`proxlab-class-<first VMID of the block>`: unique per cluster). Strays
/// are looked for in it too (`classes::strays`).
pub fn class_pool(vmid_base: i32) -> String {
    format!("proxlab-class-{vmid_base}")
}

/// The wizard's answers. Text fields as typed; the server checks everything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassForm {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub cluster_id: i32,
    /// Empty: a class of empty VMs (no template).
    #[serde(default)]
    pub template_vmid: String,
    pub students: String,
    /// Empty: the template's value.
    #[serde(default)]
    pub cores: String,
    #[serde(default)]
    pub memory_mb: String,
    /// Disk size of an empty VM (no template).
    #[serde(default)]
    pub disk_gb: String,
    /// Empty: automatic placement.
    #[serde(default)]
    pub pinned_node: String,
    /// Empty: the invite never expires.
    #[serde(default)]
    pub invite_days: String,
    /// Non-empty (a ticked box sends "on"): on node-local storage, a copy of the class base
    /// on each node the class uses, so its VMs can spread over the nodes.
    #[serde(default)]
    pub base_per_node: String,
}

/// A template the wizard offers (from the inventory: instant, no Proxmox call).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateChoice {
    pub cluster_id: i32,
    pub cluster: String,
    pub vmid: i32,
    pub name: String,
    pub node: String,
    pub cores: i32,
    pub memory: i64,
    pub disk: i64,
    pub os_type: Option<String>,
    /// `BIOS`, `UEFI`, `UEFI + TPM` (known once the full sync read its config).
    pub firmware: Option<String>,
    pub storage: Option<String>,
}

/// The review step: what launching would do, and what stops it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassPlan {
    pub vmid_base: i32,
    pub students: u32,
    /// Node → number of VMs placed there.
    pub nodes: Vec<(String, u32)>,
    pub storage: String,
    pub space_bytes: i64,
    pub storage_avail: i64,
    pub cores: i32,
    pub memory_mb: i32,
    pub efi: bool,
    pub tpm: bool,
    /// How the VMs would be made, and why that way (`None` until a storage is known).
    pub method: Option<DeployMethod>,
    pub method_reason: String,
    /// A class on node-local storage with other nodes online: what spreading it would take.
    pub spread: Option<SpreadOffer>,
    /// Nodes that get a copy of the class base (the form asked for a base per node).
    pub base_copies: Vec<String>,
    pub warnings: Vec<String>,
    /// Reasons the plan cannot run; Launch is refused while there are any.
    pub blockers: Vec<String>,
}

/// The choice the review step offers for a class on node-local storage: keep every VM on the
/// template's node, or first put a copy of the class base on each node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpreadOffer {
    pub template_node: String,
    /// Online nodes the class could use (the template's node first).
    pub nodes: Vec<String>,
    /// Space one copy takes on its node (the template's disks).
    pub copy_bytes: i64,
    /// Time one copy takes to reach its node at 1 Gbit/s (Proxmox's offline migration sends
    /// the whole disk); the copies leave the template's node one after another in the worst
    /// case, beside the class base's own full copy.
    pub copy_secs: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassSummary {
    pub id: i32,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub template: Option<String>,
    pub vmid_base: i32,
    pub students: i32,
    pub enrolled: i32,
    pub state: String,
}

/// What a class's teachers may change after launch. `invite_days`: days from now until the
/// current invite link expires; empty: it never does (the link itself stays the same).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassEdit {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub invite_days: String,
}

/// A class name: 1 to 80 characters on one line.
pub fn check_class_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err("Class name: 1 to 80 characters, no line breaks.".into());
    }
    Ok(name.to_string())
}

/// A class description: at most 2000 characters (line breaks allowed).
pub fn check_class_description(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.chars().count() > 2000 {
        return Err("Description: at most 2000 characters.".into());
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err("Description: text only.".into());
    }
    Ok(text.to_string())
}

/// Invite expiry in days: 1 to 365, or empty for never.
pub fn check_invite_days(raw: &str) -> Result<Option<u32>, String> {
    match raw.trim() {
        "" => Ok(None),
        d => match d.parse::<u32>() {
            Ok(n) if (1..=365).contains(&n) => Ok(Some(n)),
            _ => Err("Invite expiry: 1 to 365 days, or empty for never.".into()),
        },
    }
}

/// The class page a student sees: who teaches it, what it is about, their VM, and the rules
/// that apply to them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassAbout {
    pub id: i32,
    pub name: String,
    pub description: String,
    pub teachers: Vec<String>,
    /// The viewer's VMs in the class: (cluster id, VMID, name).
    pub vms: Vec<(i32, i32, String)>,
    /// The policies, in words (idle shutdown, hours, quota, warnings).
    pub rules: Vec<String>,
    pub student_snapshots: i32,
    pub ssh_enabled: bool,
    /// The viewer manages the class (the link to its teacher page shows).
    pub manager: bool,
}

/// A VM nobody has whose name, tags or pool name a user (`lab-alice`, tag `alice`, pool
/// `students-alice`): admins may assign it to them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentSuggestion {
    pub cluster_id: i32,
    pub cluster: String,
    pub vmid: i32,
    pub vm_name: String,
    pub username: String,
    pub reason: SuggestionReason,
}

/// Where a suggested VM names its user: the first of name, tag, pool that does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SuggestionReason {
    Name,
    Tag,
    Pool,
}

impl SuggestionReason {
    pub fn label(self) -> &'static str {
        match self {
            SuggestionReason::Name => "by its name",
            SuggestionReason::Tag => "by a tag",
            SuggestionReason::Pool => "by its pool",
        }
    }
}

/// VMs that look like a class made elsewhere (a VMID block with a class base at `P99`) but
/// have no class here: an admin can import them as one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdoptionCandidate {
    pub cluster_id: i32,
    pub cluster: String,
    pub vmid_base: i32,
    /// VMs in `P01..P98`.
    pub students: u32,
    /// A VM at `P00` (the teacher's).
    pub teacher_vm: bool,
    /// The base template's name.
    pub base: String,
    /// A class name from the VMs' names.
    pub name_guess: String,
}

/// One VM of a class on the class page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassVmView {
    pub vmid: i32,
    pub role: VmRole,
    pub name: String,
    pub node: String,
    pub step: VmStep,
    pub error: Option<String>,
    pub student: Option<String>,
    pub state: Option<VmState>,
    pub ip: Option<String>,
}

/// Deployment progress from the job rows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeployProgress {
    pub total: u32,
    pub done: u32,
    pub failed: u32,
    /// A job is queued or running (the page keeps polling).
    pub active: bool,
    /// What the running job is.
    pub job: Option<JobKind>,
    pub eta_secs: Option<i64>,
    pub last_error: Option<String>,
}

impl DeployProgress {
    pub fn percent(&self) -> u32 {
        if self.total == 0 {
            return 100;
        }
        (self.done + self.failed) * 100 / self.total
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassDetail {
    pub summary: ClassSummary,
    pub cluster_id: i32,
    /// Present for those who manage the class.
    pub invite_token: Option<String>,
    pub invite_expires_at: Option<i64>,
    pub co_owners: Vec<String>,
    pub vms: Vec<ClassVmView>,
    pub progress: DeployProgress,
    pub now: i64,
    /// Students may SSH to their VMs through the portal.
    #[serde(default)]
    pub ssh_enabled: bool,
    /// Snapshots each student may keep on their VM (0: none).
    #[serde(default)]
    pub student_snapshots: i32,
    /// Days until the invite link expires (rounded up), for the edit form.
    #[serde(default)]
    pub invite_days_left: Option<i64>,
    /// The waiting list, first first: (username, display name, since).
    #[serde(default)]
    pub waiting: Vec<(String, String, i64)>,
    /// VMs in the class's block of student VMIDs that it does not have: (vmid, name).
    #[serde(default)]
    pub strays: Vec<(i32, String)>,
}

/// What the join page shows before the student accepts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinView {
    pub class_name: String,
    pub teacher: String,
    pub free_vms: u32,
    /// The visitor already has a VM in this class.
    pub already_joined: bool,
    /// The class's VMs are still being made (no free VM may just mean "not yet").
    #[serde(default)]
    pub deploying: bool,
    /// Students on the class's waiting list.
    #[serde(default)]
    pub waiting: u32,
    /// The visitor's place on it (1 = next), if they wait.
    #[serde(default)]
    pub place: Option<u32>,
}

#[cfg(test)]
mod edit_tests {
    use super::*;

    #[test]
    fn edits_are_checked_like_the_wizard() {
        assert_eq!(check_class_name("  Linux 101 ").unwrap(), "Linux 101");
        assert!(check_class_name("").is_err());
        assert!(check_class_name("a\nb").is_err());
        assert!(check_class_name(&"x".repeat(81)).is_err());
        assert_eq!(
            check_class_description("line 1\nline 2").unwrap(),
            "line 1\nline 2"
        );
        assert!(check_class_description("bell\u{7}").is_err());
        assert!(check_class_description(&"x".repeat(2001)).is_err());
        assert_eq!(check_invite_days(" "), Ok(None));
        assert_eq!(check_invite_days("7"), Ok(Some(7)));
        for bad in ["0", "366", "-1", "seven"] {
            assert!(check_invite_days(bad).is_err(), "{bad}");
        }
    }
}
