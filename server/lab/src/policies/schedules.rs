//! Schedules: "start the class's student VMs at 08:50 on Mon and Wed", "shut them down at
//! 12:00", weekly or once, in the class's zone (as Azure Lab Services' schedules).
//!
//! `last_fired_at` is the last occurrence handled, not the moment it ran: each tick walks
//! from there to the latest occurrence at or before now, so every occurrence is handled once
//! (whatever instance holds the lease, however often it ticks) and daylight-saving changes
//! neither repeat nor skip one (`calendar`). An occurrence found more than [`GRACE_SECS`]
//! late (the portal was down) is logged as skipped instead of starting a class hours late.
//! A stop is announced to students the warning time ahead (it is a candidate of `decide`).

use super::calendar::{self, next_occurrence};
use crate::db::entity::class_schedule;
use crate::model::{Days, PolicyAction, ScheduleForm, ScheduleView, format_time, parse_time};
use crate::{Error, Result, Services};
use jiff::tz::TimeZone;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

/// An occurrence handled later than this is skipped.
pub const GRACE_SECS: i64 = 30 * 60;
/// Most schedules per class.
const MAX_PER_CLASS: usize = 20;

fn action_of(row: &class_schedule::Model) -> PolicyAction {
    if row.action == "start" {
        PolicyAction::Start
    } else {
        PolicyAction::Shutdown
    }
}

fn date_of(row: &class_schedule::Model) -> Option<jiff::civil::Date> {
    row.date
        .as_deref()
        .and_then(|d| calendar::parse_date(d).ok())
}

/// The next time the schedule acts after `after`.
pub fn next(row: &class_schedule::Model, tz: &TimeZone, after: i64) -> Option<i64> {
    next_occurrence(
        Days(row.days as u8),
        date_of(row),
        row.time_min as u16,
        tz,
        after,
    )
}

pub async fn list(services: &Services, class_id: i32, tz: &TimeZone) -> Result<Vec<ScheduleView>> {
    let now = services.clock.now();
    Ok(class_schedule::Entity::find()
        .filter(class_schedule::Column::ClassId.eq(class_id))
        .order_by_asc(class_schedule::Column::Id)
        .all(&services.db)
        .await?
        .into_iter()
        .map(|row| {
            let after = row.last_fired_at.unwrap_or(row.created_at).max(now);
            let next_at = next(&row, tz, after);
            ScheduleView {
                id: row.id,
                action: action_of(&row),
                days: if row.days == 0 {
                    String::new()
                } else {
                    Days(row.days as u8).to_string()
                },
                date: row.date.clone(),
                time: format_time(row.time_min as u16),
                next_text: next_at.map_or_else(|| "done".into(), |t| calendar::describe(t, tz)),
                next_at,
            }
        })
        .collect())
}

/// Adds a schedule from the form: `when` is days (`Mon,Wed`, `daily`) or a date.
pub async fn add(
    services: &Services,
    class_id: i32,
    form: &ScheduleForm,
    tz: &TimeZone,
) -> Result<()> {
    let action = match form.action.as_str() {
        "start" => "start",
        "shutdown" | "stop" => "shutdown",
        other => {
            return Err(Error::Invalid(format!(
                "\"{other}\" is not start or shut down."
            )));
        }
    };
    let time = parse_time(&form.time, false).map_err(Error::Invalid)?;
    let when = form.when.trim();
    let (days, date) = if when.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        let date = calendar::parse_date(when)?;
        let at = calendar::instant(date, time, tz).unwrap_or(i64::MIN);
        if at <= services.clock.now() {
            return Err(Error::Invalid(format!(
                "{when} {} has passed.",
                format_time(time)
            )));
        }
        (0, Some(date.to_string()))
    } else {
        (Days::parse(when).map_err(Error::Invalid)?.0 as i32, None)
    };
    let count = class_schedule::Entity::find()
        .filter(class_schedule::Column::ClassId.eq(class_id))
        .all(&services.db)
        .await?
        .len();
    if count >= MAX_PER_CLASS {
        return Err(Error::Invalid(format!(
            "A class has at most {MAX_PER_CLASS} schedules."
        )));
    }
    class_schedule::ActiveModel {
        class_id: Set(class_id),
        action: Set(action.into()),
        days: Set(days),
        date: Set(date),
        time_min: Set(time as i32),
        last_fired_at: Set(None),
        created_at: Set(services.clock.now()),
        ..Default::default()
    }
    .insert(&services.db)
    .await?;
    Ok(())
}

pub async fn delete(services: &Services, class_id: i32, id: i32) -> Result<()> {
    let gone = class_schedule::Entity::delete_many()
        .filter(class_schedule::Column::Id.eq(id))
        .filter(class_schedule::Column::ClassId.eq(class_id))
        .exec(&services.db)
        .await?
        .rows_affected;
    if gone == 0 {
        return Err(Error::NotFound("That schedule".into()));
    }
    Ok(())
}

/// What a class's schedules ask of this tick.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Due {
    /// A start occurrence to carry out now.
    pub start: Option<i64>,
    /// The earliest stop due now or within the warning time.
    pub stop_at: Option<i64>,
    /// (schedule id, the occurrence handled): the new `last_fired_at`s.
    pub handled: Vec<(i32, i64)>,
    /// Occurrences found too late, skipped: (action, occurrence).
    pub skipped: Vec<(PolicyAction, i64)>,
}

/// Walks each schedule from its last handled occurrence to now.
pub fn due(rows: &[class_schedule::Model], tz: &TimeZone, now: i64, warn_secs: i64) -> Due {
    let mut due = Due::default();
    let horizon = now - GRACE_SECS;
    for row in rows {
        let action = action_of(row);
        let after = row.last_fired_at.unwrap_or(row.created_at);
        // Occurrences before the grace period are skipped however many there are: find the
        // latest of them from a week before the horizon (a weekly schedule has one there),
        // instead of walking every day since `after`.
        let mut cursor = after;
        let mut stale = None;
        if let Some(first) = next(row, tz, after).filter(|t| *t <= horizon) {
            let mut c = after.max(horizon - 8 * 86_400);
            stale = Some(first);
            for _ in 0..16 {
                match next(row, tz, c).filter(|t| *t <= horizon) {
                    Some(t) => {
                        stale = Some(t);
                        c = t;
                    }
                    None => break,
                }
            }
            cursor = stale.unwrap_or(after).max(c);
        }
        // Then the occurrences within the grace period (a few at most).
        let mut latest = None;
        let mut upcoming = next(row, tz, cursor);
        for _ in 0..16 {
            match upcoming {
                Some(at) if at <= now => {
                    latest = Some(at);
                    upcoming = next(row, tz, at);
                }
                _ => break,
            }
        }
        if let Some(at) = stale.filter(|_| latest.is_none()) {
            due.handled.push((row.id, at));
        }
        if let Some(at) = stale {
            due.skipped.push((action, at));
        }
        if let Some(at) = latest {
            due.handled.push((row.id, at));
            if action == PolicyAction::Start {
                due.start = Some(due.start.map_or(at, |s: i64| s.max(at)));
            } else {
                due.stop_at = Some(due.stop_at.map_or(at, |s: i64| s.min(at)));
            }
        }
        if action == PolicyAction::Shutdown
            && let Some(at) = upcoming.filter(|at| *at <= now + warn_secs)
        {
            due.stop_at = Some(due.stop_at.map_or(at, |s| s.min(at)));
        }
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i32, action: &str, days: &str, minute: u16, created: i64) -> class_schedule::Model {
        class_schedule::Model {
            id,
            class_id: 1,
            action: action.into(),
            days: Days::parse(days).unwrap().0 as i32,
            date: None,
            time_min: minute as i32,
            last_fired_at: None,
            created_at: created,
        }
    }

    fn ts(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn a_week_of_minutes_fires_each_occurrence_once() {
        let tz = calendar::zone("Europe/London").unwrap();
        // Mon/Wed 08:50 start; daily 12:00 stop; a week across the March DST change.
        let mut rows = vec![
            row(1, "start", "Mon,Wed", 530, ts("2027-03-24T00:00:00Z")),
            row(2, "shutdown", "daily", 720, ts("2027-03-24T00:00:00Z")),
        ];
        let (mut starts, mut stops) = (Vec::new(), Vec::new());
        let mut now = ts("2027-03-24T00:00:00Z");
        while now < ts("2027-04-01T00:00:00Z") {
            let due = due(&rows, &tz, now, 600);
            for (id, at) in &due.handled {
                let row = rows.iter_mut().find(|r| r.id == *id).unwrap();
                row.last_fired_at = Some(*at);
                if *id == 2 {
                    stops.push(*at);
                }
            }
            if let Some(at) = due.start {
                starts.push(at);
            }
            assert!(due.skipped.is_empty());
            now += 60;
        }
        assert_eq!(
            starts,
            vec![
                ts("2027-03-24T08:50:00Z"), // Wed, GMT
                ts("2027-03-29T07:50:00Z"), // Mon, BST
                ts("2027-03-31T07:50:00Z"),
            ]
        );
        assert_eq!(stops.len(), 8, "one stop a day, none twice: {stops:?}");
        assert!(stops.contains(&ts("2027-03-27T12:00:00Z")));
        assert!(stops.contains(&ts("2027-03-28T11:00:00Z")));
    }

    #[test]
    fn a_stop_is_announced_ahead_and_a_late_one_is_skipped() {
        let tz = calendar::zone("UTC").unwrap();
        let rows = vec![row(1, "shutdown", "daily", 720, ts("2027-01-01T00:00:00Z"))];
        let early = due(&rows, &tz, ts("2027-01-01T11:52:00Z"), 600);
        assert_eq!(early.stop_at, Some(ts("2027-01-01T12:00:00Z")));
        assert!(early.handled.is_empty());
        let late = due(&rows, &tz, ts("2027-01-01T13:00:00Z"), 600);
        assert_eq!(late.stop_at, None);
        assert_eq!(late.skipped.len(), 1);
        assert_eq!(late.handled, vec![(1, ts("2027-01-01T12:00:00Z"))]);
    }

    #[test]
    fn years_behind_are_skipped_in_one_tick() {
        let tz = calendar::zone("UTC").unwrap();
        let rows = vec![row(1, "start", "Mon-Fri", 530, 0)];
        let now = ts("2027-01-06T08:55:00Z"); // a Wednesday, 5 min after 08:50
        let due = due(&rows, &tz, now, 600);
        assert_eq!(due.start, Some(ts("2027-01-06T08:50:00Z")));
        assert_eq!(due.handled, vec![(1, ts("2027-01-06T08:50:00Z"))]);
        assert_eq!(
            due.skipped,
            vec![(PolicyAction::Start, ts("2027-01-05T08:50:00Z"))]
        );
    }
}
