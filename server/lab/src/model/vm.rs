//! What the dashboard shows of a VM, and what it may ask for.

use serde::{Deserialize, Serialize};

/// A VM's state as a person reads it, derived from the inventory row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VmState {
    Stopped,
    /// Running, but no IP known yet (booting), or a start is in flight.
    Starting,
    Running,
    /// A shutdown or stop is in flight.
    Stopping,
    /// The node cannot be reached, or Proxmox has no data yet.
    Unknown,
    /// Assigned, but the VM no longer exists in Proxmox.
    Missing,
    Template,
}

impl VmState {
    pub fn label(self) -> &'static str {
        match self {
            VmState::Stopped => "Stopped",
            VmState::Starting => "Starting…",
            VmState::Running => "Running",
            VmState::Stopping => "Stopping…",
            VmState::Unknown => "Unknown",
            VmState::Missing => "Missing",
            VmState::Template => "Template",
        }
    }

    /// Changing on its own: the browser polls faster while any card is in transition.
    pub fn in_transition(self) -> bool {
        matches!(self, VmState::Starting | VmState::Stopping)
    }

    pub fn css(self) -> &'static str {
        match self {
            VmState::Stopped => "stopped",
            VmState::Starting | VmState::Stopping => "busy",
            VmState::Running => "running",
            VmState::Unknown | VmState::Missing => "unknown",
            VmState::Template => "template",
        }
    }
}

/// Power actions a user can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VmAction {
    Start,
    Shutdown,
    Stop,
    Reboot,
}

impl VmAction {
    pub fn as_str(self) -> &'static str {
        match self {
            VmAction::Start => "start",
            VmAction::Shutdown => "shutdown",
            VmAction::Stop => "stop",
            VmAction::Reboot => "reboot",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            VmAction::Start => "Start",
            VmAction::Shutdown => "Shut down",
            VmAction::Stop => "Force stop",
            VmAction::Reboot => "Reboot",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Start, Self::Shutdown, Self::Stop, Self::Reboot]
            .into_iter()
            .find(|a| a.as_str() == text)
    }

    /// Which actions make sense in a state (the server checks again).
    pub fn allowed_in(self, state: VmState) -> bool {
        match state {
            VmState::Stopped => self == VmAction::Start,
            VmState::Running | VmState::Starting => self != VmAction::Start,
            VmState::Stopping => self == VmAction::Stop,
            VmState::Unknown | VmState::Missing | VmState::Template => false,
        }
    }
}

/// One dashboard card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VmCard {
    pub cluster_id: i32,
    pub cluster: String,
    pub vmid: i32,
    pub name: String,
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: String,
    /// Proxmox `ostype` (`l26`, `win11`, …), for the icon.
    pub os_type: Option<String>,
    pub state: VmState,
    pub ip: Option<String>,
    pub cpus: i32,
    pub max_mem: i64,
    /// Unix seconds when it started (uptime is computed by whoever shows it).
    pub started_at: Option<i64>,
    /// Proxmox's message when the last action failed.
    pub task_error: Option<String>,
    /// Usernames it is assigned to (admin view only; empty for others).
    pub owners: Vec<String>,
    /// The optional RDP port check's answer for the current IP.
    pub rdp_open: Option<bool>,
    /// A VM of a class (not its base): it can be reset to the class baseline.
    #[serde(default)]
    pub resettable: bool,
    /// A VM of a class with SSH through the portal enabled, with a known IP.
    #[serde(default)]
    pub ssh: bool,
    /// The policy warning its student sees (a class VM about to be shut down).
    #[serde(default)]
    pub notice: Option<super::PolicyNotice>,
    /// Its student's hours in the class (a class VM with a student).
    #[serde(default)]
    pub usage: Option<super::UsageView>,
    /// The viewer may open the VM's snapshot page (a class VM; for a student, the class
    /// allows snapshots).
    #[serde(default)]
    pub snapshots: bool,
    /// The class it belongs to (id, name), for the link to the class's page.
    #[serde(default)]
    pub class: Option<(i32, String)>,
    /// The viewer may change its hardware (a VM outside classes on a cluster they may
    /// build on; see `lab::builder::hardware`).
    #[serde(default)]
    pub hardware: bool,
}

/// The admin's filters; students and teachers ignore them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmFilter {
    pub cluster: Option<i32>,
    pub node: Option<String>,
    /// `running`, `stopped`, `unknown`, `template`.
    pub status: Option<String>,
    /// Username of an owner.
    pub owner: Option<String>,
    /// Part of a name, or a VMID.
    pub q: Option<String>,
    pub page: u64,
}

/// A page of the dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// The change counter this page was read at; a poll that brings it back gets `None`.
    pub counter: i64,
    /// The server's clock when it was read (uptimes are shown relative to it, so the server's
    /// and the browser's renderings agree).
    pub now: i64,
    pub cards: Vec<VmCard>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
    /// Admin view: every VM with filters and paging.
    pub all_vms: bool,
    /// Cluster names and ids, for the admin's filter.
    pub clusters: Vec<(i32, String)>,
}

impl Dashboard {
    pub fn in_transition(&self) -> bool {
        self.cards.iter().any(|c| c.state.in_transition())
    }
}

/// How many bytes, in words (`2 GiB`).
pub fn format_bytes(bytes: i64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let gib = bytes as f64 / GIB;
    if gib >= 1.0 {
        if gib.fract() < 0.05 {
            format!("{gib:.0} GiB")
        } else {
            format!("{gib:.1} GiB")
        }
    } else {
        format!("{} MiB", bytes / (1024 * 1024))
    }
}

/// An uptime in words (`3 h 12 min`).
pub fn format_uptime(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_state() {
        assert!(VmAction::Start.allowed_in(VmState::Stopped));
        assert!(!VmAction::Shutdown.allowed_in(VmState::Stopped));
        assert!(!VmAction::Start.allowed_in(VmState::Running));
        assert!(VmAction::Stop.allowed_in(VmState::Stopping));
        assert!(!VmAction::Start.allowed_in(VmState::Unknown));
        assert_eq!(VmAction::parse("reboot"), Some(VmAction::Reboot));
        assert_eq!(VmAction::parse("destroy"), None);
    }

    #[test]
    fn sizes_and_uptimes_read_well() {
        assert_eq!(format_bytes(2 * 1024 * 1024 * 1024), "2 GiB");
        assert_eq!(format_bytes(1536 * 1024 * 1024), "1.5 GiB");
        assert_eq!(format_bytes(512 * 1024 * 1024), "512 MiB");
        assert_eq!(format_uptime(59), "0 min");
        assert_eq!(format_uptime(3 * 3600 + 12 * 60), "3 h 12 min");
        assert_eq!(format_uptime(2 * 86_400 + 3600), "2 d 1 h");
    }
}

/// The text of a `.rdp` file for `ip`, with `username` as the login hint. Every value is on
/// its own line; line breaks in the inputs are removed so that they cannot add settings.
pub fn rdp_file(ip: &str, username: &str) -> String {
    let clean = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
    let host = if ip.contains(':') {
        format!("[{}]", clean(ip))
    } else {
        clean(ip)
    };
    format!(
        "full address:s:{host}:3389\r\nusername:s:{}\r\nprompt for credentials:i:1\r\nadministrative session:i:0\r\nscreen mode id:i:2\r\nauthentication level:i:2\r\n",
        clean(username)
    )
}

#[cfg(test)]
mod rdp_tests {
    #[test]
    fn rdp_files_name_the_host_and_cannot_be_injected() {
        let f = super::rdp_file("10.0.0.5", "ada");
        assert!(f.starts_with("full address:s:10.0.0.5:3389\r\n"));
        assert!(f.contains("username:s:ada\r\n"));
        let f = super::rdp_file("2001:db8::5", "x\r\nalternate shell:s:cmd");
        assert!(f.contains("full address:s:[2001:db8::5]:3389"));
        assert!(!f.contains("\r\nalternate shell"));
    }
}

/// Most lines one bulk assignment takes.
pub const MAX_BULK_LINES: usize = 2000;

/// Lines of `VMID username` (blank lines and `#` comments skipped), as an admin pastes them
/// to assign or unassign VMs in bulk. The first bad line is named by its number.
pub fn parse_bulk_lines(text: &str) -> Result<Vec<(i32, String)>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split(|c: char| c.is_whitespace() || c == ',' || c == ';');
        let mut next = || parts.by_ref().find(|p| !p.is_empty());
        let (Some(vmid), Some(user), None) = (next(), next(), next()) else {
            return Err(format!(
                "Line {}: write a VMID and a username (\"1203 alice\").",
                i + 1
            ));
        };
        let vmid = vmid
            .parse::<i32>()
            .ok()
            .and_then(|v| super::Vmid::new(v).ok())
            .ok_or_else(|| format!("Line {}: {vmid:?} is not a VMID.", i + 1))?;
        out.push((vmid.get(), user.to_string()));
        if out.len() > MAX_BULK_LINES {
            return Err(format!("At most {MAX_BULK_LINES} lines at once."));
        }
    }
    if out.is_empty() {
        return Err("Paste one \"VMID username\" per line.".into());
    }
    Ok(out)
}

#[cfg(test)]
mod bulk_tests {
    use super::parse_bulk_lines;

    #[test]
    fn bulk_lines_are_vmid_and_username() {
        let text = "1201 alice\n\n# a comment\n1202,bob  # trailing\n 1203\tcarol ";
        assert_eq!(
            parse_bulk_lines(text).unwrap(),
            [
                (1201, "alice".into()),
                (1202, "bob".into()),
                (1203, "carol".into())
            ]
        );
        assert!(parse_bulk_lines("").unwrap_err().contains("one"));
        assert!(parse_bulk_lines("1201").unwrap_err().starts_with("Line 1"));
        assert!(
            parse_bulk_lines("ok\n12x alice")
                .unwrap_err()
                .starts_with("Line 1")
        );
        assert!(
            parse_bulk_lines("1201 alice\n99 bob")
                .unwrap_err()
                .starts_with("Line 2")
        );
        assert!(parse_bulk_lines("1201 alice extra").is_err());
    }
}
