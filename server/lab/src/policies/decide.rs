//! The decision for one student VM at one tick: pure (no database, no clock), so every rule
//! is tested on its own.
//!
//! * Each policy that applies gives a *candidate*: a reason and when the portal would act.
//!   Idle: `minutes` after the VM was last active, plus the warning time. Hours: when the
//!   access hours close (or now, outside them). Quota: when the hours left run out. Schedule:
//!   the stop time (or a stop already announced).
//! * The earliest candidate is shown to the student as a warning. A warning always comes
//!   first: a candidate already due with no warning shown gets the full warning time, so the
//!   portal never acts on a VM whose student was not told.
//! * When a warning's time has come, the portal acts (a `power` job) and clears it. It acts
//!   once per boot: if Proxmox refuses, the refusal is logged and nothing is retried until
//!   the VM is started again.
//! * A stopped VM has no warning; a reason that no longer holds (activity, an added hour,
//!   hours reopened) clears its warning.

use crate::model::{ClassPolicy, IdleAction, PolicyAction, PolicyReason};

/// A warning as stored (`vm_policies`) and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Warning {
    pub reason: PolicyReason,
    pub action: PolicyAction,
    pub due_at: i64,
}

/// What the class's clock says this tick (the same for all its VMs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassTime {
    /// Inside the access hours (or none set).
    pub open: bool,
    /// When the hours close, if that is within the warning time.
    pub closes_at: Option<i64>,
    /// A schedule's stop, if one is due within the warning time.
    pub stop_at: Option<i64>,
}

/// One VM's facts this tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    pub now: i64,
    pub running: bool,
    /// This boot's start (`vms.started_at`).
    pub started_at: Option<i64>,
    /// Seen above the idle thresholds since the last tick; `None`: no figures yet.
    pub busy: Option<bool>,
    pub active_at: i64,
    /// Seconds of quota left; `None`: unlimited (or no student).
    pub quota_left: Option<i64>,
    pub warning: Option<Warning>,
    pub acted_at: Option<i64>,
}

/// What to store and do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub active_at: i64,
    pub warning: Option<Warning>,
    pub act: Option<(PolicyAction, PolicyReason)>,
}

pub fn decide(policy: &ClassPolicy, class: ClassTime, f: &Facts) -> Verdict {
    if !f.running {
        return Verdict {
            active_at: f.active_at,
            warning: None,
            act: None,
        };
    }
    let boot = f.started_at.unwrap_or(f.now);
    let mut active_at = f.active_at.max(boot);
    if f.busy == Some(true) {
        active_at = f.now;
    }
    let nothing = Verdict {
        active_at,
        warning: None,
        act: None,
    };
    // Acted on this boot already: the outcome is in the log; no second try until a new boot.
    if f.acted_at.is_some_and(|a| a >= boot) {
        return nothing;
    }
    let warn = policy.warn_minutes as i64 * 60;
    let mut candidates: Vec<(PolicyReason, i64)> = Vec::new();
    if policy.hours.enabled {
        if !class.open {
            candidates.push((PolicyReason::Hours, f.now));
        } else if let Some(closes) = class.closes_at {
            candidates.push((PolicyReason::Hours, closes));
        }
    }
    if let Some(left) = f.quota_left
        && left <= warn
    {
        candidates.push((PolicyReason::Quota, f.now + left));
    }
    if policy.idle.enabled && f.busy.is_some() {
        let idle_at = active_at + policy.idle.minutes as i64 * 60;
        if f.now >= idle_at {
            candidates.push((PolicyReason::Idle, idle_at + warn));
        }
    }
    if let Some(stop) = class.stop_at {
        candidates.push((PolicyReason::Schedule, stop));
    }
    // A schedule's stop, once announced, stands until it is done.
    if let Some(w) = f.warning.filter(|w| w.reason == PolicyReason::Schedule) {
        candidates.push((PolicyReason::Schedule, w.due_at));
    }
    let Some((reason, due)) = candidates.into_iter().min_by_key(|(_, due)| *due) else {
        return nothing;
    };
    let action = match (reason, policy.idle.action) {
        (PolicyReason::Idle, IdleAction::Hibernate) => PolicyAction::Hibernate,
        _ => PolicyAction::Shutdown,
    };
    match f.warning.filter(|w| w.reason == reason) {
        // Shown before and due: act.
        Some(shown) if shown.due_at <= f.now => Verdict {
            active_at,
            warning: None,
            act: Some((shown.action, reason)),
        },
        // Shown and not due yet: it stands as the student saw it.
        Some(shown) => Verdict {
            active_at,
            warning: Some(shown),
            act: None,
        },
        // New: never due before the student had the warning time.
        None => Verdict {
            active_at,
            warning: Some(Warning {
                reason,
                action,
                due_at: if due <= f.now { f.now + warn } else { due },
            }),
            act: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessHours, IdleRule};

    const T0: i64 = 1_800_000_000;

    fn idle_policy() -> ClassPolicy {
        ClassPolicy {
            idle: IdleRule {
                enabled: true,
                minutes: 30,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn facts(now: i64) -> Facts {
        Facts {
            now,
            running: true,
            started_at: Some(T0),
            busy: Some(false),
            active_at: T0,
            quota_left: None,
            warning: None,
            acted_at: None,
        }
    }

    fn open() -> ClassTime {
        ClassTime {
            open: true,
            ..Default::default()
        }
    }

    /// When the portal acted, what it did and why.
    type Act = (i64, PolicyAction, PolicyReason);

    /// Runs ticks every 30 s from `T0` to `until`, carrying the stored state like the worker.
    fn run(
        policy: &ClassPolicy,
        class: impl Fn(i64) -> ClassTime,
        busy: impl Fn(i64) -> bool,
        until: i64,
    ) -> (Vec<(i64, Warning)>, Option<Act>) {
        let mut f = facts(T0);
        let mut warnings = Vec::new();
        let mut now = T0;
        while now <= until {
            f.now = now;
            f.busy = Some(busy(now));
            let v = decide(policy, class(now), &f);
            f.active_at = v.active_at;
            if let Some(w) = v.warning
                && f.warning != Some(w)
            {
                warnings.push((now, w));
            }
            f.warning = v.warning;
            if let Some((action, reason)) = v.act {
                return (warnings, Some((now, action, reason)));
            }
            now += 30;
        }
        (warnings, None)
    }

    #[test]
    fn idle_warns_after_the_idle_time_then_acts_after_the_warning() {
        let (warnings, act) = run(&idle_policy(), |_| open(), |_| false, T0 + 3 * 3600);
        assert_eq!(warnings.len(), 1);
        let (at, w) = warnings[0];
        assert_eq!(at, T0 + 30 * 60);
        assert_eq!(w.due_at, T0 + 40 * 60);
        assert_eq!(
            act,
            Some((T0 + 40 * 60, PolicyAction::Shutdown, PolicyReason::Idle))
        );
    }

    #[test]
    fn activity_during_the_warning_clears_it() {
        let busy_at = T0 + 35 * 60;
        let (warnings, act) = run(&idle_policy(), |_| open(), |t| t == busy_at, T0 + 50 * 60);
        assert_eq!(warnings.len(), 1);
        assert_eq!(act, None, "activity at 35 min moved the idle clock");
        let (_, act) = run(&idle_policy(), |_| open(), |t| t == busy_at, T0 + 80 * 60);
        assert_eq!(act.map(|a| a.0), Some(busy_at + 40 * 60));
    }

    #[test]
    fn no_figures_means_no_idle_verdict() {
        let mut f = facts(T0 + 5 * 3600);
        f.busy = None;
        assert_eq!(decide(&idle_policy(), open(), &f).warning, None);
    }

    #[test]
    fn hibernate_is_the_idle_action_when_chosen() {
        let mut p = idle_policy();
        p.idle.action = IdleAction::Hibernate;
        let (_, act) = run(&p, |_| open(), |_| false, T0 + 3600);
        assert_eq!(act.map(|a| a.1), Some(PolicyAction::Hibernate));
    }

    #[test]
    fn hours_warn_before_they_close_and_act_when_they_do() {
        let policy = ClassPolicy {
            hours: AccessHours::parse("daily 00:00-24:00").unwrap(),
            ..Default::default()
        };
        let close = T0 + 3600;
        let class = |now: i64| ClassTime {
            open: now < close,
            closes_at: (now < close && close - now <= 600).then_some(close),
            stop_at: None,
        };
        let (warnings, act) = run(&policy, class, |_| true, T0 + 7200);
        assert_eq!(warnings[0].0, close - 600);
        assert_eq!(warnings[0].1.due_at, close);
        assert_eq!(
            act,
            Some((close, PolicyAction::Shutdown, PolicyReason::Hours))
        );
    }

    #[test]
    fn outside_hours_without_a_warning_gets_the_whole_warning_time() {
        let policy = ClassPolicy {
            hours: AccessHours::parse("Mon 08:00-09:00").unwrap(),
            ..Default::default()
        };
        let closed = ClassTime::default();
        let v = decide(&policy, closed, &facts(T0 + 60));
        assert_eq!(v.act, None);
        assert_eq!(v.warning.unwrap().due_at, T0 + 60 + 600);
    }

    #[test]
    fn quota_runs_out_on_time_and_an_added_hour_clears_the_warning() {
        let policy = ClassPolicy {
            quota_hours: 1,
            ..Default::default()
        };
        let mut f = facts(T0);
        f.quota_left = Some(300); // 5 min left, inside the 10 min warning
        let v = decide(&policy, open(), &f);
        let w = v.warning.unwrap();
        assert_eq!((w.reason, w.due_at), (PolicyReason::Quota, T0 + 300));
        f.warning = Some(w);
        f.now = T0 + 300;
        f.quota_left = Some(0);
        assert_eq!(
            decide(&policy, open(), &f).act,
            Some((PolicyAction::Shutdown, PolicyReason::Quota))
        );
        f.quota_left = Some(3600); // the teacher added an hour
        let v = decide(&policy, open(), &f);
        assert_eq!((v.warning, v.act), (None, None));
    }

    #[test]
    fn the_earliest_reason_wins_and_a_stop_schedule_stands() {
        let mut policy = idle_policy();
        policy.quota_hours = 5;
        let mut f = facts(T0 + 31 * 60); // idle: due at 40 min
        f.quota_left = Some(120); // quota: due in 2 min
        let w = decide(&policy, open(), &f).warning.unwrap();
        assert_eq!(w.reason, PolicyReason::Quota);
        // A schedule stop announced stays even once `stop_at` moved to next week.
        let mut f = facts(T0);
        f.busy = Some(true);
        let stop = ClassTime {
            open: true,
            stop_at: Some(T0 + 600),
            ..Default::default()
        };
        let w = decide(&ClassPolicy::default(), stop, &f).warning.unwrap();
        f.warning = Some(w);
        f.now = T0 + 600;
        assert_eq!(
            decide(&ClassPolicy::default(), open(), &f).act,
            Some((PolicyAction::Shutdown, PolicyReason::Schedule))
        );
    }

    #[test]
    fn one_action_per_boot_and_nothing_for_a_stopped_vm() {
        let mut f = facts(T0 + 3 * 3600);
        f.acted_at = Some(T0 + 3600);
        assert_eq!(decide(&idle_policy(), open(), &f).warning, None);
        f.started_at = Some(T0 + 2 * 3600); // started again since
        f.active_at = T0;
        assert!(decide(&idle_policy(), open(), &f).warning.is_some());
        f.running = false;
        assert_eq!(decide(&idle_policy(), open(), &f).warning, None);
    }
}
