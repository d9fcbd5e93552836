//! The audit log's vocabulary, shared with the browser: what was done (`AuditAction`, grouped
//! into `AuditArea`s for the page's filter), how it went (`AuditOutcome`), one line as the
//! page shows it (`AuditLine`) and the page's filter (`AuditFilter`).

use super::job::stored_enum;
use serde::{Deserialize, Serialize};

stored_enum! {
    /// One kind of act. The stored word never changes; the label is what people read.
    pub enum AuditAction {
        SignIn = "sign_in",
        SignInFailed = "sign_in_failed",
        SignInThrottled = "sign_in_throttled",
        SignOut = "sign_out",
        Registered = "registered",
        AccountCreated = "account_created",
        AccountChanged = "account_changed",
        RoleChanged = "role_changed",
        PasswordChanged = "password_changed",
        AccountDisabled = "account_disabled",
        AccountEnabled = "account_enabled",
        AccountDeleted = "account_deleted",
        ClusterAdded = "cluster_added",
        ClusterChanged = "cluster_changed",
        ClusterRemoved = "cluster_removed",
        VmPower = "vm_power",
        VmsAssigned = "vms_assigned",
        ClassCreated = "class_created",
        ClassChanged = "class_changed",
        ClassPublished = "class_published",
        ClassDeleted = "class_deleted",
        VmReset = "vm_reset",
        InviteRenewed = "invite_renewed",
        ClassJoined = "class_joined",
        PolicyAction = "policy_action",
        ConsoleOpened = "console_opened",
        ConsoleClosed = "console_closed",
    }
}

/// The page's groups of actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditArea {
    SignIn,
    Accounts,
    Clusters,
    Vms,
    Classes,
    Policies,
    Consoles,
}

impl AuditArea {
    pub const ALL: [AuditArea; 7] = [
        AuditArea::SignIn,
        AuditArea::Accounts,
        AuditArea::Clusters,
        AuditArea::Vms,
        AuditArea::Classes,
        AuditArea::Policies,
        AuditArea::Consoles,
    ];

    pub fn label(self) -> &'static str {
        match self {
            AuditArea::SignIn => "Sign-in",
            AuditArea::Accounts => "Accounts",
            AuditArea::Clusters => "Clusters",
            AuditArea::Vms => "VMs",
            AuditArea::Classes => "Classes",
            AuditArea::Policies => "Policies",
            AuditArea::Consoles => "Consoles",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuditArea::SignIn => "sign-in",
            AuditArea::Accounts => "accounts",
            AuditArea::Clusters => "clusters",
            AuditArea::Vms => "vms",
            AuditArea::Classes => "classes",
            AuditArea::Policies => "policies",
            AuditArea::Consoles => "consoles",
        }
    }

    pub fn parse(s: &str) -> Option<AuditArea> {
        AuditArea::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Its actions.
    pub fn actions(self) -> Vec<AuditAction> {
        AuditAction::ALL
            .iter()
            .copied()
            .filter(|a| a.area() == self)
            .collect()
    }
}

impl AuditAction {
    pub fn area(self) -> AuditArea {
        use AuditAction::*;
        match self {
            SignIn | SignInFailed | SignInThrottled | SignOut => AuditArea::SignIn,
            Registered | AccountCreated | AccountChanged | RoleChanged | PasswordChanged
            | AccountDisabled | AccountEnabled | AccountDeleted => AuditArea::Accounts,
            ClusterAdded | ClusterChanged | ClusterRemoved => AuditArea::Clusters,
            VmPower | VmsAssigned | VmReset => AuditArea::Vms,
            ClassCreated | ClassChanged | ClassPublished | ClassDeleted | InviteRenewed
            | ClassJoined => AuditArea::Classes,
            PolicyAction => AuditArea::Policies,
            ConsoleOpened | ConsoleClosed => AuditArea::Consoles,
        }
    }

    pub fn label(self) -> &'static str {
        use AuditAction::*;
        match self {
            SignIn => "Signed in",
            SignInFailed => "Sign-in failed",
            SignInThrottled => "Sign-in throttled",
            SignOut => "Signed out",
            Registered => "Registered",
            AccountCreated => "Account created",
            AccountChanged => "Account changed",
            RoleChanged => "Role changed",
            PasswordChanged => "Password changed",
            AccountDisabled => "Account disabled",
            AccountEnabled => "Account enabled",
            AccountDeleted => "Account deleted",
            ClusterAdded => "Cluster added",
            ClusterChanged => "Cluster changed",
            ClusterRemoved => "Cluster removed",
            VmPower => "VM power",
            VmsAssigned => "VMs assigned",
            ClassCreated => "Class created",
            ClassChanged => "Class changed",
            ClassPublished => "Class published",
            ClassDeleted => "Class deleted",
            VmReset => "VM reset",
            InviteRenewed => "Invite renewed",
            ClassJoined => "Joined a class",
            PolicyAction => "Policy action",
            ConsoleOpened => "Console opened",
            ConsoleClosed => "Console closed",
        }
    }
}

stored_enum! {
    /// How an act went: done, refused (not allowed, not found), or failed on the way.
    pub enum AuditOutcome {
        Ok = "ok",
        Denied = "denied",
        Failed = "failed",
    }
}

impl AuditOutcome {
    pub fn label(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "OK",
            AuditOutcome::Denied => "Denied",
            AuditOutcome::Failed => "Failed",
        }
    }
}

/// One line of the log as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who: a username, or `policy worker` / `command line`.
    pub actor: String,
    pub action: AuditAction,
    /// What it was done to, in words (`VM 101 on lab`, `class Networking`, `account alice`).
    pub object: String,
    pub addr: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
}

/// The page's filter, as typed (the server checks it). Empty fields filter nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    /// `AuditArea::as_str`, or empty for all.
    pub area: String,
    /// Part of the actor's name.
    pub who: String,
    /// Part of the object's words.
    pub object: String,
    /// `YYYY-MM-DD` (UTC), inclusive.
    pub from: String,
    pub to: String,
    /// Lines older than this id (the "Older" link), or 0 for the newest.
    pub before: i64,
}

/// A page of lines, newest first, and whether older ones exist.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub lines: Vec<AuditLine>,
    pub more: bool,
    /// How many days lines are kept (the retention setting).
    pub retention_days: u32,
}

/// Lines per page.
pub const AUDIT_PAGE: usize = 100;

impl AuditFilter {
    /// The filter as a query string (`area=vms&who=alice`), empty fields left out; `before`
    /// only when asked.
    pub fn query(&self, with_before: bool) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("area", &self.area),
            ("who", &self.who),
            ("object", &self.object),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.trim().to_owned()))
        .collect();
        if with_before && self.before > 0 {
            pairs.push(("before", self.before.to_string()));
        }
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_its_own_query_string() {
        let f = AuditFilter {
            area: "vms".into(),
            who: "a b&c".into(),
            before: 7,
            ..Default::default()
        };
        assert_eq!(f.query(false), "area=vms&who=a%20b%26c");
        assert_eq!(f.query(true), "area=vms&who=a%20b%26c&before=7");
        assert_eq!(AuditFilter::default().query(true), "");
    }

    #[test]
    fn every_action_has_an_area_and_every_area_actions() {
        for area in AuditArea::ALL {
            assert!(!area.actions().is_empty(), "{area:?}");
            assert_eq!(AuditArea::parse(area.as_str()), Some(area));
        }
        let grouped: usize = AuditArea::ALL.iter().map(|a| a.actions().len()).sum();
        assert_eq!(grouped, AuditAction::ALL.len());
    }
}
