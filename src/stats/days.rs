//! Local days of a time zone as runs of 15-minute UTC buckets, computed in
//! SQL: the zone's offset at a bucket comes from a tree of CASEs over its
//! offset changes, and the local day is (bucket + offset) / 96.

use chrono::{DateTime, Days, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Seconds in a bucket.
const BUCKET_SECONDS: i64 = 900;
/// Buckets in a 24-hour day.
pub const BUCKETS_PER_DAY: i64 = 96;

/// The bucket holding instant `t`.
fn bucket_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(BUCKET_SECONDS)
}

/// The zone's offset from UTC at the start of `bucket`, in whole buckets.
fn offset_at(tz: Tz, bucket: i64) -> i64 {
    let utc = DateTime::from_timestamp(bucket * BUCKET_SECONDS, 0).unwrap_or_default();
    let seconds = tz
        .offset_from_utc_datetime(&utc.naive_utc())
        .fix()
        .local_minus_utc();
    i64::from(seconds).div_euclid(BUCKET_SECONDS)
}

/// The zone's offset changes from 2000 to 2100: the first bucket of each
/// stretch and its offset in buckets (outside the span, the nearest
/// stretch's). Probes daily and bisects where the offset differs; zones
/// change their offset at most a few times a year.
fn zone_segments(tz: Tz) -> Vec<(i64, i64)> {
    let from = bucket_of(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap());
    let to = bucket_of(Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap());
    let mut out = vec![(from, offset_at(tz, from))];
    let mut prev = from;
    while prev < to - 1 {
        let probe = (prev + BUCKETS_PER_DAY).min(to - 1);
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
/// `bucket`: a balanced tree of CASEs over [`zone_segments`], built once per zone.
fn offset_sql(tz: Tz) -> Arc<String> {
    static CACHE: OnceLock<Mutex<HashMap<Tz, Arc<String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(sql) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&tz) {
        return sql.clone();
    }
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
    let sql = Arc::new(tree(&zone_segments(tz)));
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
    //! What the SQL computes, computed here from the same segments; the
    //! integration tests run the SQL itself on both backends.
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn bucket(s: &str) -> i64 {
        bucket_of(s.parse().unwrap())
    }

    /// The local day the SQL gives a bucket: (bucket + offset) / 96, the
    /// offset taken from the segments as the CASE tree takes it.
    fn local_day(segs: &[(i64, i64)], bucket: i64) -> NaiveDate {
        let i = segs.partition_point(|s| s.0 <= bucket).max(1);
        date_of((bucket + segs[i - 1].1).div_euclid(BUCKETS_PER_DAY))
    }

    #[test]
    fn every_bucket_lands_on_the_local_date_of_its_instant() {
        for tz in [
            chrono_tz::Asia::Kolkata,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::Europe::Berlin,
            chrono_tz::America::New_York,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::America::Santiago,
            chrono_tz::Pacific::Chatham,
        ] {
            let segs = zone_segments(tz);
            let a = bucket("2026-01-01T00:00:00Z");
            for b in a..a + 366 * BUCKETS_PER_DAY {
                let instant = DateTime::from_timestamp(b * BUCKET_SECONDS, 0).unwrap();
                assert_eq!(
                    local_day(&segs, b),
                    instant.with_timezone(&tz).date_naive(),
                    "{tz} bucket {b}"
                );
            }
        }
    }

    #[test]
    fn day_lengths_follow_the_clock() {
        let length = |tz: Tz, d: &str| {
            let segs = zone_segments(tz);
            let a = bucket("2026-01-01T00:00:00Z");
            (a..a + 366 * BUCKETS_PER_DAY)
                .filter(|b| local_day(&segs, *b) == date(d))
                .count()
        };
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(length(berlin, "2026-03-29"), 92); // 23 hours
        assert_eq!(length(berlin, "2026-10-25"), 100); // 25 hours
        assert_eq!(length(berlin, "2026-06-01"), 96);
        // :30 and :45 zones: the day starts at 18:30 and 18:15 UTC the day before.
        let starts = |tz: Tz, d: &str| {
            let segs = zone_segments(tz);
            let a = bucket("2026-01-01T00:00:00Z");
            (a..).find(|b| local_day(&segs, *b) == date(d)).unwrap()
        };
        assert_eq!(
            starts(chrono_tz::Asia::Kolkata, "2026-01-02"),
            bucket("2026-01-01T18:30:00Z")
        );
        assert_eq!(
            starts(chrono_tz::Asia::Kathmandu, "2026-01-02"),
            bucket("2026-01-01T18:15:00Z")
        );
    }

    #[test]
    fn the_sql_is_a_balanced_tree_over_the_segments() {
        let segs = zone_segments(chrono_tz::Europe::Berlin);
        assert!(segs.len() > 150, "two changes a year for a century");
        let sql = offset_sql(chrono_tz::Europe::Berlin);
        assert_eq!(sql.matches("CASE WHEN").count(), segs.len() - 1);
        // nesting depth stays logarithmic (SQLite caps expression depth)
        let mut depth = 0usize;
        let mut deepest = 0;
        for token in sql.split_whitespace() {
            match token {
                "CASE" => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                "END" => depth -= 1,
                _ => {}
            }
        }
        assert!(deepest <= 9, "{deepest}");
        assert_eq!(offset_sql(chrono_tz::Asia::Kolkata).as_str(), "22");
    }
}
