//! Times as people read them: `2026-11-27 21:34 UTC`, or "5 min ago" next to the server's
//! clock. Pure functions, the same on the server, in the browser and in the CLI, so a
//! hydrated page shows what the server rendered.

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// How long before `now` `t` was: "12 s ago", "5 min ago", "3 h ago"; the date after a day.
pub fn ago(now: i64, t: i64) -> String {
    match (now - t).max(0) {
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        _ => format_time(t),
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm; a date
/// crate would add a dependency to the wasm for this one line of output).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_time(1_795_815_240), "2026-11-27 21:34 UTC");
    }

    #[test]
    fn recent_times_read_as_ago() {
        let now = 1_795_815_240;
        assert_eq!(ago(now, now + 3), "0 s ago");
        assert_eq!(ago(now, now - 59), "59 s ago");
        assert_eq!(ago(now, now - 600), "10 min ago");
        assert_eq!(ago(now, now - 7200), "2 h ago");
        assert_eq!(ago(now, now - 86_400), "2026-11-26 21:34 UTC");
    }
}
