//! Local times in a class's zone, with a real time-zone database (jiff: the system's tzdb,
//! else its bundled copy), so daylight-saving changes neither repeat nor skip a schedule.
//!
//! A schedule's occurrence is "local date D at HH:MM". Each local date gives exactly one
//! instant: in a spring-forward gap (02:30 does not exist) the time after the gap (03:30); in
//! an autumn fold (01:30 happens twice) the first one. That is jiff's (and RFC 5545's)
//! "compatible" choice. Occurrences of successive dates are strictly increasing, so walking
//! them date by date can neither fire one twice nor miss one.

use crate::model::Days;
use crate::{Error, Result};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// The zone named `name` (IANA, `Europe/London`), or a clear error.
pub fn zone(name: &str) -> Result<TimeZone> {
    TimeZone::get(name).map_err(|_| {
        Error::Invalid(format!(
            "\"{name}\" is not a time zone (write it as Europe/London or America/New_York)."
        ))
    })
}

/// The zone this machine runs in, by name (`UTC` if it has none).
pub fn system_zone_name() -> String {
    TimeZone::try_system()
        .ok()
        .and_then(|tz| tz.iana_name().map(str::to_string))
        .unwrap_or_else(|| "UTC".into())
}

/// Local weekday (Monday = 0), minute after midnight and date of instant `t`.
pub fn local(t: i64, tz: &TimeZone) -> (u8, u16, Date) {
    let zdt = Timestamp::from_second(t)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(tz.clone());
    (
        zdt.weekday().to_monday_zero_offset() as u8,
        zdt.hour() as u16 * 60 + zdt.minute() as u16,
        zdt.date(),
    )
}

/// The instant of local `date` at `minute` (see the module doc for gaps and folds).
pub fn instant(date: Date, minute: u16, tz: &TimeZone) -> Option<i64> {
    date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
        .to_zoned_datetime(tz.clone())
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// When a schedule next acts strictly after `after`: weekly on `days` at `minute`, or once on
/// `date` (when `days` is empty).
pub fn next_occurrence(
    days: Days,
    date: Option<Date>,
    minute: u16,
    tz: &TimeZone,
    after: i64,
) -> Option<i64> {
    if days.is_empty() {
        return date
            .and_then(|d| instant(d, minute, tz))
            .filter(|t| *t > after);
    }
    // From the day before `after`'s local date (an offset change can move a local time across
    // midnight), eight days cover every weekday once more.
    let (_, _, today) = local(after, tz);
    let mut d = today.yesterday().ok()?;
    for _ in 0..9 {
        if days.has(d.weekday().to_monday_zero_offset() as u8)
            && let Some(t) = instant(d, minute, tz)
            && t > after
        {
            return Some(t);
        }
        d = d.tomorrow().ok()?;
    }
    None
}

/// An instant in the zone as people read it: `Mon 2027-01-18 08:50 GMT`.
pub fn describe(t: i64, tz: &TimeZone) -> String {
    Timestamp::from_second(t)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(tz.clone())
        .strftime("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// `2027-01-15` as a date, or a clear error.
pub fn parse_date(text: &str) -> Result<Date> {
    text.trim()
        .parse::<Date>()
        .map_err(|_| Error::Invalid(format!("\"{}\" is not a date (YYYY-MM-DD).", text.trim())))
}

/// The first minute in `(t, t + within]` at which `open(weekday, minute)` turns false, in
/// whole minutes of local time from `t`'s local time (an offset change inside the window is
/// ignored: at most an hour's difference in when a warning starts).
pub fn closes_within(
    t: i64,
    tz: &TimeZone,
    within_secs: i64,
    open: impl Fn(u8, u16) -> bool,
) -> Option<i64> {
    let (weekday, minute, _) = local(t, tz);
    let secs_into_minute = t.rem_euclid(60);
    let start = t - secs_into_minute;
    for k in 1..=(within_secs / 60 + 1) {
        let total = minute as i64 + k;
        let (wd, m) = (
            ((weekday as i64 + total / 1440) % 7) as u8,
            (total % 1440) as u16,
        );
        let at = start + k * 60;
        if at > t + within_secs {
            break;
        }
        if !open(wd, m) {
            return Some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AccessHours;

    fn ts(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    /// Every occurrence of a daily 01:30 and 02:30 schedule across a week, walked the way
    /// the worker walks them (each one after the last).
    fn walk(zone: &str, minute: u16, from: &str, n: usize) -> Vec<i64> {
        let tz = super::zone(zone).unwrap();
        let mut after = ts(from);
        let mut out = Vec::new();
        for _ in 0..n {
            after = next_occurrence(Days::ALL, None, minute, &tz, after).unwrap();
            out.push(after);
        }
        out
    }

    #[test]
    fn london_spring_forward_skips_nothing_and_repeats_nothing() {
        // 2027-03-28 01:00 GMT → 02:00 BST: 01:30 does not exist that day.
        let got = walk("Europe/London", 90, "2027-03-26T12:00:00Z", 4);
        assert_eq!(
            got,
            vec![
                ts("2027-03-27T01:30:00Z"), // GMT
                ts("2027-03-28T01:30:00Z"), // the gap: 02:30 BST = 01:30 UTC, once
                ts("2027-03-29T00:30:00Z"), // 01:30 BST
                ts("2027-03-30T00:30:00Z"),
            ]
        );
    }

    #[test]
    fn london_fall_back_runs_a_folded_time_once() {
        // 2027-10-31 02:00 BST → 01:00 GMT: 01:30 happens twice; the first one counts.
        let got = walk("Europe/London", 90, "2027-10-29T12:00:00Z", 3);
        assert_eq!(
            got,
            vec![
                ts("2027-10-30T00:30:00Z"),
                ts("2027-10-31T00:30:00Z"), // 01:30 BST, not 01:30 GMT an hour later
                ts("2027-11-01T01:30:00Z"),
            ]
        );
    }

    #[test]
    fn new_york_both_transitions() {
        // 2027-03-14 02:00 EST → 03:00 EDT; 2027-11-07 02:00 EDT → 01:00 EST.
        let spring = walk("America/New_York", 150, "2027-03-13T00:00:00Z", 3);
        assert_eq!(
            spring,
            vec![
                ts("2027-03-13T07:30:00Z"), // 02:30 EST
                ts("2027-03-14T07:30:00Z"), // no 02:30: 03:30 EDT
                ts("2027-03-15T06:30:00Z"), // 02:30 EDT
            ]
        );
        let fall = walk("America/New_York", 90, "2027-11-06T00:00:00Z", 3);
        assert_eq!(
            fall,
            vec![
                ts("2027-11-06T05:30:00Z"), // 01:30 EDT
                ts("2027-11-07T05:30:00Z"), // first 01:30 (EDT)
                ts("2027-11-08T06:30:00Z"), // 01:30 EST
            ]
        );
    }

    #[test]
    fn weekly_days_cross_the_week_boundary() {
        let tz = zone("Europe/London").unwrap();
        // Mon and Wed at 08:50; from Friday 2027-01-15 the next is Monday the 18th.
        let days = Days::parse("Mon,Wed").unwrap();
        let from = ts("2027-01-15T09:00:00Z");
        let next = next_occurrence(days, None, 530, &tz, from).unwrap();
        assert_eq!(next, ts("2027-01-18T08:50:00Z"));
        let then = next_occurrence(days, None, 530, &tz, next).unwrap();
        assert_eq!(then, ts("2027-01-20T08:50:00Z"));
        // Sunday 23:30 → Monday 08:50, across the week's end.
        let sunday = ts("2027-01-17T23:30:00Z");
        assert_eq!(next_occurrence(days, None, 530, &tz, sunday), Some(next));
    }

    #[test]
    fn a_one_off_runs_once() {
        let tz = zone("UTC").unwrap();
        let date = parse_date("2027-02-01").unwrap();
        let at = next_occurrence(Days::default(), Some(date), 600, &tz, 0).unwrap();
        assert_eq!(at, ts("2027-02-01T10:00:00Z"));
        assert_eq!(
            next_occurrence(Days::default(), Some(date), 600, &tz, at),
            None
        );
        assert!(parse_date("2027-02-30").is_err());
        assert!(zone("Mars/Olympus").is_err());
    }

    #[test]
    fn hours_close_across_midnight_in_local_time() {
        let tz = zone("America/New_York").unwrap();
        let hours = AccessHours::parse("Fri 22:00-01:00").unwrap();
        // Saturday 2027-01-16 00:05 EST = 05:05Z, in Friday night's range; closes at 01:00.
        let t = ts("2027-01-16T05:05:00Z");
        let (wd, m, _) = local(t, &tz);
        assert_eq!((wd, m), (5, 5));
        assert!(hours.is_open(wd, m));
        let close = closes_within(t, &tz, 3600, |wd, m| hours.is_open(wd, m));
        assert_eq!(close, Some(ts("2027-01-16T06:00:00Z")));
        assert_eq!(
            closes_within(t, &tz, 60 * 30, |wd, m| hours.is_open(wd, m)),
            None
        );
    }
}
