//! Wall-clock conversions: RFC 3339 times to Unix nanoseconds, and Lambda's
//! epoch-millisecond deadlines to monotonic instants.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `2026-11-22T07:55:56.123Z` (or with an offset such as `+01:00`) as
/// nanoseconds since the Unix epoch; `None` if it is not such a time.
pub(crate) fn unix_nanos(text: &str) -> Option<u64> {
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-');
    let (year, month, day): (i64, u32, u32) =
        (ymd.next()?.parse().ok()?, ymd.next()?.parse().ok()?, ymd.next()?.parse().ok()?);
    let offset_at = rest.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = rest.split_at(offset_at);
    let mut hms = clock.splitn(3, ':');
    let (hour, minute): (u32, u32) = (hms.next()?.parse().ok()?, hms.next()?.parse().ok()?);
    let (seconds, fraction) = hms.next()?.split_once('.').unwrap_or((clock.rsplit(':').next()?, ""));
    let second: u32 = seconds.parse().ok()?;
    let valid =
        (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 && minute < 60 && second < 61;
    if !valid || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u64 = format!("{:0<9}", &fraction[..fraction.len().min(9)]).parse().ok()?;
    let offset_seconds = match zone {
        "Z" | "z" => 0,
        _ => {
            let (sign, hm) = zone.split_at(1);
            let (h, m) = hm.split_once(':')?;
            let magnitude = i64::from(h.parse::<u32>().ok()?) * 3600 + i64::from(m.parse::<u32>().ok()?) * 60;
            if sign == "-" {
                -magnitude
            } else {
                magnitude
            }
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second) - offset_seconds;
    u64::try_from(seconds).ok()?.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The instant of `epoch_ms` (Unix epoch milliseconds), as seen now; a time
/// in the past is now.
pub(crate) fn instant_of(epoch_ms: u64) -> Instant {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let left = u128::from(epoch_ms).saturating_sub(now_ms);
    Instant::now() + Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_become_unix_nanoseconds() {
        assert_eq!(unix_nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_nanos("2022-10-12T00:00:00.001Z"), Some(1_665_532_800_001_000_000));
        assert_eq!(unix_nanos("2022-10-12T02:00:00.5+02:00"), Some(1_665_532_800_500_000_000));
        assert_eq!(unix_nanos("2000-02-29T12:34:56.123456789Z"), Some(951_827_696_123_456_789));
        for bad in ["", "2022-13-01T00:00:00Z", "2022-10-12", "2022-10-12T00:00:00", "x-y-zT1:2:3Z"] {
            assert_eq!(unix_nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn deadlines_in_the_past_are_now() {
        let before = Instant::now();
        assert!(instant_of(0) >= before && instant_of(0) <= Instant::now());
    }
}
