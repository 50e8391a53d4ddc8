//! Local days of a time zone as ranges of 15-minute UTC buckets.

use chrono::{DateTime, Days, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Seconds in a bucket.
pub const BUCKET_SECONDS: i64 = 900;
/// Buckets in a 24-hour day.
pub const BUCKETS_PER_DAY: i64 = 96;

/// The bucket holding instant `t`.
pub fn bucket_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(BUCKET_SECONDS)
}

/// The zone's offset from UTC at the start of `bucket`, in whole buckets.
pub fn offset_at(tz: Tz, bucket: i64) -> i64 {
    let utc = DateTime::from_timestamp(bucket * BUCKET_SECONDS, 0).unwrap_or_default();
    let seconds = tz
        .offset_from_utc_datetime(&utc.naive_utc())
        .fix()
        .local_minus_utc();
    i64::from(seconds).div_euclid(BUCKET_SECONDS)
}

/// The first bucket of local day `day`: local midnight, or the first
/// instant of the day when midnight itself is skipped by a clock change.
pub fn day_start(tz: Tz, day: NaiveDate) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    for quarter in 0..(BUCKETS_PER_DAY * 2) {
        let local = midnight + chrono::Duration::minutes(15 * quarter);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return bucket_of(t.with_timezone(&Utc));
        }
    }
    // No zone skips two days; fall back to the UTC reading.
    bucket_of(midnight.and_utc())
}

/// Where the offset changes within [from, to): the first bucket of each
/// stretch and its offset in buckets. Probes every 4 hours and bisects
/// where the offset differs, so changes at least 4 hours apart are all found.
pub fn segments(tz: Tz, from: i64, to: i64) -> Vec<(i64, i64)> {
    segments_by(tz, from, to, 16)
}

fn segments_by(tz: Tz, from: i64, to: i64, step: i64) -> Vec<(i64, i64)> {
    let mut out = vec![(from, offset_at(tz, from))];
    let mut prev = from;
    while prev < to - 1 {
        let probe = (prev + step).min(to - 1);
        let current = out.last().expect("one segment").1;
        if offset_at(tz, probe) != current {
            // the first bucket in (prev, probe] whose offset differs
            let (mut lo, mut hi) = (prev, probe);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if offset_at(tz, mid) != current {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            out.push((hi, offset_at(tz, hi)));
        }
        prev = probe;
    }
    out
}

/// The local day of a bucket, given its offset in buckets.
pub fn day_number(bucket: i64, offset: i64) -> i64 {
    (bucket + offset).div_euclid(BUCKETS_PER_DAY)
}

/// The date of a day number (days since 1970-01-01).
pub fn date_of(day: i64) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    if day >= 0 {
        epoch + Days::new(day as u64)
    } else {
        epoch - Days::new(day.unsigned_abs())
    }
}

/// The day number of a date.
pub fn number_of(date: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    (date - epoch).num_days()
}

/// A SQL expression giving the zone's offset (in buckets) at column
/// `bucket`, for every change from 2000 to 2100 (outside it, the nearest
/// stretch's): a balanced tree of CASEs, computed once per zone.
pub fn offset_sql(tz: Tz) -> Arc<String> {
    static CACHE: OnceLock<Mutex<HashMap<Tz, Arc<String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(sql) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&tz) {
        return sql.clone();
    }
    let from = bucket_of(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap());
    let to = bucket_of(Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap());
    // Zones change their offset at most a few times a year: a daily probe finds each.
    let segs = segments_by(tz, from, to, BUCKETS_PER_DAY);
    fn tree(segs: &[(i64, i64)]) -> String {
        if segs.len() == 1 {
            return segs[0].1.to_string();
        }
        let mid = segs.len() / 2;
        format!(
            "CASE WHEN bucket < {} THEN {} ELSE {} END",
            segs[mid].0,
            tree(&segs[..mid]),
            tree(&segs[mid..])
        )
    }
    let sql = Arc::new(tree(&segs));
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(tz, sql.clone());
    sql
}

/// A SQL expression giving the local day number in `tz` of column `bucket`.
pub fn local_day_sql(tz: Tz) -> String {
    format!("((bucket + {}) / {BUCKETS_PER_DAY})", offset_sql(tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Every bucket of a range lands on the local date its instant has.
    fn check(tz: Tz, from: &str, to: &str) {
        let (a, b) = (day_start(tz, date(from)), day_start(tz, date(to)));
        let segs = segments(tz, a, b);
        for bucket in a..b {
            let off = segs.iter().rev().find(|s| s.0 <= bucket).unwrap().1;
            let instant = DateTime::from_timestamp(bucket * BUCKET_SECONDS, 0).unwrap();
            assert_eq!(
                date_of(day_number(bucket, off)),
                instant.with_timezone(&tz).date_naive(),
                "{tz} bucket {bucket}"
            );
        }
    }

    #[test]
    fn local_days_in_odd_and_changing_zones() {
        check(chrono_tz::Asia::Kolkata, "2026-01-01", "2026-03-01");
        check(chrono_tz::Asia::Kathmandu, "2026-01-01", "2026-03-01");
        check(chrono_tz::Europe::Berlin, "2026-03-01", "2026-11-15");
        check(chrono_tz::America::New_York, "2026-03-01", "2026-11-15");
        check(chrono_tz::Australia::Lord_Howe, "2026-03-01", "2026-11-15");
        check(chrono_tz::America::Santiago, "2026-03-01", "2026-11-15");
    }

    /// The long-range expression agrees with the zone on every bucket of a year.
    #[test]
    fn the_zone_expression_matches_the_zone() {
        for tz in [
            chrono_tz::Europe::Berlin,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::Pacific::Chatham,
            chrono_tz::America::Santiago,
        ] {
            let sql = offset_sql(tz);
            // evaluate the CASE tree by hand
            fn eval(sql: &str, bucket: i64) -> i64 {
                let sql = sql.trim();
                if let Ok(n) = sql.parse() {
                    return n;
                }
                let rest = sql.strip_prefix("CASE WHEN bucket < ").unwrap();
                let (limit, rest) = rest.split_once(" THEN ").unwrap();
                // split the two branches at the top-level ELSE
                let body = rest.strip_suffix(" END").unwrap();
                let mut depth = 0;
                let bytes = body.as_bytes();
                let mut split = None;
                let mut i = 0;
                while i < bytes.len() {
                    if body[i..].starts_with("CASE ") {
                        depth += 1;
                    } else if body[i..].starts_with(" END") {
                        depth -= 1;
                    } else if depth == 0 && body[i..].starts_with(" ELSE ") {
                        split = Some(i);
                        break;
                    }
                    i += 1;
                }
                let i = split.unwrap();
                let (then, other) = (&body[..i], &body[i + 6..]);
                if bucket < limit.parse::<i64>().unwrap() {
                    eval(then, bucket)
                } else {
                    eval(other, bucket)
                }
            }
            let a = day_start(tz, date("2026-01-01"));
            for bucket in (a..a + 366 * BUCKETS_PER_DAY).step_by(7) {
                assert_eq!(eval(&sql, bucket), offset_at(tz, bucket), "{tz} {bucket}");
            }
        }
    }

    #[test]
    fn day_lengths_follow_the_clock() {
        let tz = chrono_tz::Europe::Berlin;
        let len = |d: &str| {
            let d = date(d);
            day_start(tz, d.succ_opt().unwrap()) - day_start(tz, d)
        };
        assert_eq!(len("2026-03-29"), 92); // 23 hours
        assert_eq!(len("2026-10-25"), 100); // 25 hours
        assert_eq!(len("2026-06-01"), 96);
        assert_eq!(
            day_start(chrono_tz::Asia::Kolkata, date("2026-01-02")),
            bucket_of("2026-01-01T18:30:00Z".parse().unwrap())
        );
        assert_eq!(
            day_start(chrono_tz::Asia::Kathmandu, date("2026-01-02")),
            bucket_of("2026-01-01T18:15:00Z".parse().unwrap())
        );
    }
}
