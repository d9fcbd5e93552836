//! Lab policies as the browser and the server both see them: idle shutdown, access hours, a
//! usage quota and schedules, with the input rules both sides check. Access hours and
//! schedule days are written as people write them ("Mon-Fri 08:00-16:00"), parsed here so the
//! form can show the same error the server gives. Time-zone arithmetic is server-only
//! (`lab::policies`), because the browser does not carry a time-zone database.

use serde::{Deserialize, Serialize};

/// A class's policies. `Default` is "nothing enforced", the site's defaults until an admin
/// sets others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassPolicy {
    pub idle: IdleRule,
    pub hours: AccessHours,
    /// Hours each student's VM may run in this class; 0 = unlimited.
    pub quota_hours: u32,
    /// How long before an automatic shutdown the student is warned.
    pub warn_minutes: u32,
    /// An IANA zone name (`Europe/London`); empty: the site's zone.
    pub timezone: String,
}

impl Default for ClassPolicy {
    fn default() -> Self {
        Self {
            idle: IdleRule::default(),
            hours: AccessHours::default(),
            quota_hours: 0,
            warn_minutes: 10,
            timezone: String::new(),
        }
    }
}

/// A VM is idle while its CPU stays below `cpu_percent`, its network below `net_kib` KiB/s
/// and nobody has it open in a console, terminal or SSH tab through the portal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdleRule {
    pub enabled: bool,
    pub cpu_percent: u32,
    pub net_kib: u32,
    pub minutes: u32,
    pub action: IdleAction,
}

impl Default for IdleRule {
    fn default() -> Self {
        Self {
            enabled: false,
            cpu_percent: 10,
            net_kib: 64,
            minutes: 30,
            action: IdleAction::Shutdown,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdleAction {
    /// ACPI shutdown; Proxmox stops the VM if it has not powered off after the grace time.
    #[default]
    Shutdown,
    /// Suspend to disk (QEMU VMs; a container or a refused hibernation is shut down).
    Hibernate,
}

/// Weekly access hours; `enabled: false` means always open.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessHours {
    pub enabled: bool,
    pub ranges: Vec<HoursRange>,
}

/// `days` at `start`..`end` (minutes after midnight, local time). An `end` at or before
/// `start` runs past midnight into the next day; `end` 1440 is midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursRange {
    pub days: Days,
    pub start: u16,
    pub end: u16,
}

/// A set of weekdays, bit 0 = Monday … bit 6 = Sunday.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Days(pub u8);

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl Days {
    pub const ALL: Days = Days(0x7f);

    /// Monday = 0 … Sunday = 6.
    pub fn has(self, weekday: u8) -> bool {
        weekday < 7 && self.0 & (1 << weekday) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 & 0x7f == 0
    }

    /// `Mon-Fri`, `Mon,Wed`, `Sat-Sun`, `daily`, or a mix (`Mon-Wed,Fri`); case-insensitive.
    pub fn parse(text: &str) -> Result<Days, String> {
        let text = text.trim();
        if matches!(
            text.to_ascii_lowercase().as_str(),
            "daily" | "every day" | "all"
        ) {
            return Ok(Days::ALL);
        }
        let mut bits = 0u8;
        for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
            let (from, to) = part.split_once('-').unwrap_or((part, part));
            let (from, to) = (day_index(from)?, day_index(to)?);
            if to < from {
                return Err(format!(
                    "\"{part}\": a day range runs from Monday to Sunday (write Sat-Sun, Mon)."
                ));
            }
            for d in from..=to {
                bits |= 1 << d;
            }
        }
        if bits == 0 {
            return Err("Name the days, for example Mon-Fri or Mon,Wed.".into());
        }
        Ok(Days(bits))
    }
}

fn day_index(name: &str) -> Result<u8, String> {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    // `Mon`, `monday`, `Tues`: three letters at least, continuing one day's name.
    let lower = name.trim().to_ascii_lowercase();
    FULL.iter()
        .position(|f| lower.len() >= 3 && f.starts_with(&lower))
        .map(|i| i as u8)
        .ok_or_else(|| format!("\"{}\" is not a day (Mon, Tue, … Sun).", name.trim()))
}

impl std::fmt::Display for Days {
    /// Runs of three days or more as `Mon-Fri`, the rest listed: `Mon-Wed,Fri`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == Days::ALL {
            return f.write_str("daily");
        }
        let mut parts = Vec::new();
        let mut d = 0;
        while d < 7 {
            if !self.has(d) {
                d += 1;
                continue;
            }
            let start = d;
            while d + 1 < 7 && self.has(d + 1) {
                d += 1;
            }
            match d - start {
                0 => parts.push(DAY_NAMES[start as usize].to_string()),
                1 => {
                    parts.push(DAY_NAMES[start as usize].to_string());
                    parts.push(DAY_NAMES[d as usize].to_string());
                }
                _ => parts.push(format!(
                    "{}-{}",
                    DAY_NAMES[start as usize], DAY_NAMES[d as usize]
                )),
            }
            d += 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// `HH:MM` → minutes after midnight; `24:00` only where `allow_midnight_end`.
pub fn parse_time(text: &str, allow_midnight_end: bool) -> Result<u16, String> {
    let bad = || format!("\"{}\" is not a time (HH:MM, 24-hour).", text.trim());
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || m.to_string().len() > 2 || h > 24 || (h == 24 && (m != 0 || !allow_midnight_end))
    {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn format_time(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl AccessHours {
    /// One range per line or `;`: `Mon-Fri 08:00-16:00`, `Sat 22:00-02:00` (past midnight).
    /// Empty text: no access hours (always open).
    pub fn parse(text: &str) -> Result<AccessHours, String> {
        let mut ranges = Vec::new();
        for line in text
            .split(['\n', ';'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let (days, times) = line.rsplit_once(' ').ok_or_else(|| {
                format!("\"{line}\": write the days, then the hours (Mon-Fri 08:00-16:00).")
            })?;
            let (start, end) = times
                .split_once('-')
                .ok_or_else(|| format!("\"{times}\": write the hours as 08:00-16:00."))?;
            let range = HoursRange {
                days: Days::parse(days)?,
                start: parse_time(start, false)?,
                end: parse_time(end, true)?,
            };
            if range.start == range.end {
                return Err(format!(
                    "\"{line}\": the range is empty (for a whole day write 00:00-24:00)."
                ));
            }
            ranges.push(range);
        }
        if ranges.len() > 28 {
            return Err("At most 28 ranges.".into());
        }
        Ok(AccessHours {
            enabled: !ranges.is_empty(),
            ranges,
        })
    }

    /// The text `parse` reads back, one range per line.
    pub fn to_text(&self) -> String {
        self.ranges
            .iter()
            .map(|r| format!("{} {}-{}", r.days, format_time(r.start), format_time(r.end)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether `minute` (after midnight) of `weekday` (Mon = 0) is inside the hours. A range
    /// that runs past midnight covers the early minutes of the day after its listed days.
    pub fn is_open(&self, weekday: u8, minute: u16) -> bool {
        if !self.enabled {
            return true;
        }
        let yesterday = (weekday + 6) % 7;
        self.ranges.iter().any(|r| {
            if r.end > r.start {
                r.days.has(weekday) && minute >= r.start && minute < r.end
            } else {
                (r.days.has(weekday) && minute >= r.start)
                    || (r.days.has(yesterday) && minute < r.end)
            }
        })
    }

    /// The ranges that begin on `weekday`, as `08:00-16:00` texts (for "today's hours").
    pub fn ranges_on(&self, weekday: u8) -> Vec<String> {
        self.ranges
            .iter()
            .filter(|r| r.days.has(weekday))
            .map(|r| format!("{}-{}", format_time(r.start), format_time(r.end)))
            .collect()
    }
}

/// The bounds both sides check.
pub const CPU_PERCENT: std::ops::RangeInclusive<u32> = 5..=50;
pub const IDLE_MINUTES: std::ops::RangeInclusive<u32> = 5..=240;
pub const NET_KIB: std::ops::RangeInclusive<u32> = 1..=100_000;
pub const WARN_MINUTES: std::ops::RangeInclusive<u32> = 1..=60;
pub const MAX_QUOTA_HOURS: u32 = 10_000;

impl ClassPolicy {
    /// The policies as a student reads them, one sentence each; `zone` is the zone in force.
    pub fn rules(&self, zone: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.idle.enabled {
            let act = match self.idle.action {
                IdleAction::Shutdown => "shut down",
                IdleAction::Hibernate => "hibernated",
            };
            out.push(format!(
                "A VM nobody uses is {act} after {} minutes: CPU below {} %, network below {} \
                 KiB/s and no console, terminal or SSH tab open.",
                self.idle.minutes, self.idle.cpu_percent, self.idle.net_kib
            ));
        }
        if self.hours.enabled {
            let lines = self.hours.to_text().replace('\n', "; ");
            out.push(format!(
                "VMs may run only in these hours ({zone}): {lines}. Outside them they cannot \
                 be started and running ones are shut down."
            ));
        }
        if self.quota_hours > 0 {
            out.push(format!(
                "Each student's VM may run {} hours in this class; at the limit it is shut \
                 down until the teacher adds hours.",
                self.quota_hours
            ));
        }
        if self.idle.enabled || self.hours.enabled || self.quota_hours > 0 {
            out.push(format!(
                "You are warned {} minutes before an automatic shutdown.",
                self.warn_minutes
            ));
        } else {
            out.push("No automatic shutdowns: your VM runs until you stop it.".into());
        }
        out
    }

    /// The rules of every field (the time zone's name is checked by the server).
    pub fn check(&self) -> Result<(), String> {
        let within = |v: u32, r: std::ops::RangeInclusive<u32>, what: &str| {
            if r.contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "{what} must be between {} and {}.",
                    r.start(),
                    r.end()
                ))
            }
        };
        within(
            self.idle.cpu_percent,
            CPU_PERCENT,
            "The idle CPU threshold (%)",
        )?;
        within(self.idle.minutes, IDLE_MINUTES, "The idle time (minutes)")?;
        within(
            self.idle.net_kib,
            NET_KIB,
            "The idle network threshold (KiB/s)",
        )?;
        within(
            self.warn_minutes,
            WARN_MINUTES,
            "The warning time (minutes)",
        )?;
        within(self.quota_hours, 0..=MAX_QUOTA_HOURS, "The quota (hours)")?;
        if self.hours.enabled && self.hours.ranges.is_empty() {
            return Err("Access hours are on but name no hours.".into());
        }
        Ok(())
    }
}

/// The policy form as typed (the server parses and checks it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    pub idle_enabled: String,
    #[serde(default)]
    pub idle_cpu_percent: String,
    #[serde(default)]
    pub idle_net_kib: String,
    #[serde(default)]
    pub idle_minutes: String,
    #[serde(default)]
    pub idle_action: String,
    /// `AccessHours::parse`'s text; empty = always open.
    #[serde(default)]
    pub hours: String,
    #[serde(default)]
    pub quota_hours: String,
    #[serde(default)]
    pub warn_minutes: String,
    #[serde(default)]
    pub timezone: String,
}

impl PolicyForm {
    pub fn of(policy: &ClassPolicy) -> Self {
        Self {
            idle_enabled: if policy.idle.enabled {
                "on".into()
            } else {
                String::new()
            },
            idle_cpu_percent: policy.idle.cpu_percent.to_string(),
            idle_net_kib: policy.idle.net_kib.to_string(),
            idle_minutes: policy.idle.minutes.to_string(),
            idle_action: match policy.idle.action {
                IdleAction::Shutdown => "shutdown".into(),
                IdleAction::Hibernate => "hibernate".into(),
            },
            hours: policy.hours.to_text(),
            quota_hours: policy.quota_hours.to_string(),
            warn_minutes: policy.warn_minutes.to_string(),
            timezone: policy.timezone.clone(),
        }
    }

    /// The policy the form describes, checked (but for the zone's existence).
    pub fn parse(&self) -> Result<ClassPolicy, String> {
        let number = |text: &str, what: &str| -> Result<u32, String> {
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("{what}: \"{}\" is not a whole number.", text.trim()))
        };
        let policy = ClassPolicy {
            idle: IdleRule {
                enabled: !self.idle_enabled.is_empty(),
                cpu_percent: number(&self.idle_cpu_percent, "Idle CPU threshold")?,
                net_kib: number(&self.idle_net_kib, "Idle network threshold")?,
                minutes: number(&self.idle_minutes, "Idle time")?,
                action: match self.idle_action.as_str() {
                    "hibernate" => IdleAction::Hibernate,
                    "shutdown" | "" => IdleAction::Shutdown,
                    other => return Err(format!("\"{other}\" is not an idle action.")),
                },
            },
            hours: AccessHours::parse(&self.hours)?,
            quota_hours: if self.quota_hours.trim().is_empty() {
                0
            } else {
                number(&self.quota_hours, "Quota")?
            },
            warn_minutes: number(&self.warn_minutes, "Warning time")?,
            timezone: self.timezone.trim().to_string(),
        };
        policy.check()?;
        Ok(policy)
    }
}

/// Why the portal acts on a VM by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyReason {
    Idle,
    Hours,
    Quota,
    Schedule,
}

impl PolicyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyReason::Idle => "idle",
            PolicyReason::Hours => "hours",
            PolicyReason::Quota => "quota",
            PolicyReason::Schedule => "schedule",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Idle, Self::Hours, Self::Quota, Self::Schedule]
            .into_iter()
            .find(|r| r.as_str() == text)
    }

    /// Why, as the student's banner says it.
    pub fn explain(self) -> &'static str {
        match self {
            PolicyReason::Idle => "it has been idle",
            PolicyReason::Hours => "the class's access hours are over",
            PolicyReason::Quota => "you have used your hours for this class",
            PolicyReason::Schedule => "the class's schedule stops it",
        }
    }
}

/// What the portal does to a VM by itself (the `power` job's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyAction {
    Start,
    Shutdown,
    Hibernate,
}

impl PolicyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::Start => "start",
            PolicyAction::Shutdown => "shutdown",
            PolicyAction::Hibernate => "hibernate",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PolicyAction::Start => "Start",
            PolicyAction::Shutdown => "Shut down",
            PolicyAction::Hibernate => "Hibernate",
        }
    }
}

/// A `power` job's order: one action on some VMs of a class, and why (stored as JSON in
/// `jobs.detail`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerOrder {
    pub action: PolicyAction,
    pub reason: PolicyReason,
    pub vmids: Vec<i32>,
}

/// A warning shown to the VM's student: the portal acts at `due_at` unless things change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyNotice {
    pub reason: PolicyReason,
    pub action: PolicyAction,
    /// Unix seconds.
    pub due_at: i64,
}

impl PolicyNotice {
    /// "Your VM shuts down in 10 minutes: it has been idle."
    pub fn message(&self, now: i64) -> String {
        let minutes = ((self.due_at - now).max(0) + 59) / 60;
        let when = match minutes {
            0 => "now".to_string(),
            1 => "in 1 minute".to_string(),
            m => format!("in {m} minutes"),
        };
        let verb = match self.action {
            PolicyAction::Hibernate => "hibernates",
            _ => "shuts down",
        };
        format!("Your VM {verb} {when}: {}.", self.reason.explain())
    }

    /// Only idleness ends when the student says they are still there.
    pub fn dismissable(&self) -> bool {
        self.reason == PolicyReason::Idle
    }
}

/// A student's hours in a class, for their dashboard card and the teacher's roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageView {
    pub used_secs: i64,
    /// 0 = unlimited.
    pub allowed_secs: i64,
    /// Today's access hours in the class's zone (`08:00-16:00`), empty when always open.
    pub hours_today: Vec<String>,
    /// Whether the access hours are open now.
    pub open_now: bool,
}

impl UsageView {
    pub fn left_secs(&self) -> Option<i64> {
        (self.allowed_secs > 0).then(|| (self.allowed_secs - self.used_secs).max(0))
    }
}

/// Hours and minutes as a card shows them: `3 h 05 min`, `45 min`.
pub fn format_hours(secs: i64) -> String {
    let minutes = secs.max(0) / 60;
    if minutes >= 60 {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    }
}

/// A schedule: every `days` (or once, on `date`) at `time` in the class's zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub id: i32,
    pub action: PolicyAction,
    /// `Mon,Wed`; empty for a one-off.
    pub days: String,
    /// `2027-01-15` for a one-off.
    pub date: Option<String>,
    pub time: String,
    /// The next time it acts (Unix seconds), if any.
    pub next_at: Option<i64>,
    /// …in the class's zone, as people read it (`Mon 2027-01-18 08:50 GMT`).
    pub next_text: String,
}

/// The schedule form as typed: `when` is days (`Mon,Wed`, `daily`) or a date (`2027-01-15`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleForm {
    pub action: String,
    pub when: String,
    pub time: String,
}

/// One student's line in the teacher's usage table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudentUsage {
    pub user_id: i32,
    pub username: String,
    pub vmid: i32,
    pub usage: UsageView,
    pub extra_secs: i64,
}

/// One line of the policy log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyLogView {
    pub at: i64,
    pub vmid: Option<i32>,
    pub student: Option<String>,
    /// `warn`, `shutdown`, `hibernate`, `start`, `refused`, `still-here`.
    pub action: String,
    pub reason: String,
    pub detail: Option<String>,
}

/// The class page's Policies section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyPanel {
    pub policy: ClassPolicy,
    pub form: PolicyForm,
    /// The class has no policy of its own: the site's defaults apply (and follow them).
    pub site_default: bool,
    /// The zone in force (the class's, else the site's).
    pub zone: String,
    pub open_now: bool,
    pub schedules: Vec<ScheduleView>,
    pub students: Vec<StudentUsage>,
    pub log: Vec<PolicyLogView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_and_print_back() {
        assert_eq!(Days::parse("Mon-Fri").unwrap(), Days(0b0011111));
        assert_eq!(Days::parse("mon,wed").unwrap(), Days(0b0000101));
        assert_eq!(Days::parse("Monday Wednesday").unwrap(), Days(0b0000101));
        assert_eq!(Days::parse("daily").unwrap(), Days::ALL);
        assert_eq!(Days(0b0010111).to_string(), "Mon-Wed,Fri");
        assert_eq!(Days(0b1100000).to_string(), "Sat,Sun");
        assert!(Days::parse("Fri-Mon").is_err());
        assert!(Days::parse("Mo").is_err());
        assert!(Days::parse("Monkey").is_err());
        assert!(Days::parse("").is_err());
    }

    #[test]
    fn hours_cross_midnight_into_the_next_day() {
        let h = AccessHours::parse("Sat 22:00-02:00").unwrap();
        assert!(h.is_open(5, 23 * 60));
        assert!(h.is_open(6, 60)); // Sunday 01:00
        assert!(!h.is_open(6, 2 * 60)); // Sunday 02:00: closed
        assert!(!h.is_open(5, 60)); // Saturday 01:00 belongs to Friday night: closed
        assert!(!h.is_open(0, 60)); // Monday 01:00
    }

    #[test]
    fn hours_wrap_from_sunday_to_monday() {
        let h = AccessHours::parse("Sun 23:00-01:00").unwrap();
        assert!(h.is_open(0, 30));
        assert!(!h.is_open(1, 30));
    }

    #[test]
    fn hours_text_round_trips_and_bad_text_says_why() {
        let text = "Mon-Fri 08:00-16:00\nSat 22:00-02:00\nSun 00:00-24:00";
        let h = AccessHours::parse(text).unwrap();
        assert_eq!(h.to_text(), text);
        assert!(h.is_open(6, 23 * 60 + 59));
        assert_eq!(AccessHours::parse("").unwrap(), AccessHours::default());
        for bad in [
            "Mon 8-16",
            "Mon 08:00-08:00",
            "08:00-16:00",
            "Mon 25:00-26:00",
            "Mon 08:00-24:01",
            "Xyz 08:00-09:00",
        ] {
            assert!(AccessHours::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_form_checks_every_bound() {
        let good = PolicyForm::of(&ClassPolicy::default());
        assert_eq!(good.parse().unwrap(), ClassPolicy::default());
        let mut bad = good.clone();
        bad.idle_cpu_percent = "51".into();
        assert!(bad.parse().unwrap_err().contains("between 5 and 50"));
        let mut bad = good.clone();
        bad.idle_minutes = "four".into();
        assert!(bad.parse().is_err());
        let mut bad = good;
        bad.warn_minutes = "0".into();
        assert!(bad.parse().is_err());
    }

    #[test]
    fn the_notice_counts_whole_minutes_up() {
        let n = PolicyNotice {
            reason: PolicyReason::Quota,
            action: PolicyAction::Shutdown,
            due_at: 1000 + 9 * 60 + 1,
        };
        assert_eq!(
            n.message(1000),
            "Your VM shuts down in 10 minutes: you have used your hours for this class."
        );
        assert!(!n.dismissable());
    }
}

#[cfg(test)]
mod rules_tests {
    use super::*;

    #[test]
    fn rules_name_each_policy_that_is_on() {
        let none = ClassPolicy::default().rules("UTC");
        assert_eq!(
            none,
            ["No automatic shutdowns: your VM runs until you stop it."]
        );
        let mut p = ClassPolicy::default();
        p.idle.enabled = true;
        p.hours = AccessHours::parse("Mon-Fri 08:00-16:00\nSat 22:00-02:00").unwrap();
        p.quota_hours = 20;
        let rules = p.rules("Europe/London");
        assert_eq!(rules.len(), 4, "{rules:?}");
        assert!(rules[0].contains("shut down after 30 minutes"), "{rules:?}");
        assert!(
            rules[1].contains("(Europe/London): Mon-Fri 08:00-16:00; Sat 22:00-02:00."),
            "{rules:?}"
        );
        assert!(rules[2].contains("20 hours"), "{rules:?}");
        assert!(rules[3].contains("10 minutes"), "{rules:?}");
    }
}
