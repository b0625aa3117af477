//! `GET /api/stats` buckets: the range cut into aligned minutes, hours or UTC days, each counted
//! from the counters. A bucket's interior boundaries are whole minutes, so only the range's own two
//! ends can be partial minutes: a whole series needs at most two exact index counts, whatever its
//! length. Days are summed from hour buckets (UTC days are 24 whole hours; Unix time has no leap
//! seconds).

use std::collections::{BTreeMap, BTreeSet};

use super::layout::{DAY_US, HOUR_US, MINUTE_US};
use super::range::{self, BucketKind, BucketRun, Edge, Parts};

/// The most buckets one answer may have.
pub const MAX_BUCKETS: usize = 1000;

/// A stats bucket's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Interval {
    Minute,
    #[default]
    Hour,
    Day,
}

impl Interval {
    /// `minute`, `hour` or `day`; no value means `hour`.
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text {
            None => Ok(Interval::Hour),
            Some("minute") => Ok(Interval::Minute),
            Some("hour") => Ok(Interval::Hour),
            Some("day") => Ok(Interval::Day),
            Some(_) => Err("must be one of minute, hour, day".to_owned()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Minute => "minute",
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }

    pub fn width_us(self) -> i64 {
        match self {
            Interval::Minute => MINUTE_US,
            Interval::Hour => HOUR_US,
            Interval::Day => DAY_US,
        }
    }
}

/// Why a series cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    #[error("the range holds {buckets} {interval} buckets, more than {MAX_BUCKETS}", interval = .interval.as_str())]
    TooManyBuckets { buckets: u64, interval: Interval },
    /// The caller did not read an edge the plan asked for.
    #[error("the exact count of [{}, {}) was not read", .0.from, .0.to)]
    MissingEdge(Edge),
}

/// One stats bucket: its aligned start (what the answer labels it with) and the part of the range
/// it counts, `[from, to)`; only the first and last can be clipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsBucket {
    pub start: i64,
    pub from: i64,
    pub to: i64,
}

/// The aligned buckets covering `[from, to)` (microseconds); none for an empty range.
pub fn buckets(interval: Interval, from: i64, to: i64) -> Result<Vec<StatsBucket>, StatsError> {
    if from >= to {
        return Ok(Vec::new());
    }
    let width = interval.width_us();
    let first = range::floor(from, width);
    let count = (range::ceil(to, width) - first) / width;
    if count > MAX_BUCKETS as i64 {
        return Err(StatsError::TooManyBuckets {
            buckets: count as u64,
            interval,
        });
    }
    Ok((0..count)
        .map(|i| {
            let start = first + i * width;
            StatsBucket {
                start,
                from: start.max(from),
                to: (start + width).min(to),
            }
        })
        .collect())
}

/// What to read for a series: each bucket's parts, and the union of the runs and edges they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPlan {
    pub buckets: Vec<(StatsBucket, Parts)>,
    /// Contiguous runs of hour buckets to read (`sk BETWEEN`), in order.
    pub hour_runs: Vec<BucketRun>,
    /// Contiguous runs of minute buckets to read, in order.
    pub minute_runs: Vec<BucketRun>,
    /// Partial minutes to count exactly from the index (at most two).
    pub edges: Vec<Edge>,
}

/// Plans a series: which counters and edges answer every bucket of `[from, to)`.
pub fn plan_series(interval: Interval, from: i64, to: i64) -> Result<SeriesPlan, StatsError> {
    let buckets: Vec<(StatsBucket, Parts)> = buckets(interval, from, to)?
        .into_iter()
        .map(|b| (b, range::parts(b.from, b.to)))
        .collect();
    let mut hours = BTreeSet::new();
    let mut minutes = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for (_, parts) in &buckets {
        hours.extend(parts.hours.iter().flat_map(BucketRun::indexes));
        minutes.extend(parts.minutes.iter().flat_map(BucketRun::indexes));
        edges.extend(parts.edges.iter().copied());
    }
    Ok(SeriesPlan {
        buckets,
        hour_runs: runs(&hours, BucketKind::Hour),
        minute_runs: runs(&minutes, BucketKind::Minute),
        edges: edges.into_iter().collect(),
    })
}

/// Groups sorted indexes into contiguous runs.
fn runs(indexes: &BTreeSet<i64>, kind: BucketKind) -> Vec<BucketRun> {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &i in indexes {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => runs.push((i, i)),
        }
    }
    runs.into_iter()
        .map(|(first, last)| BucketRun { kind, first, last })
        .collect()
}

/// What was read for a plan: counts of hour and minute buckets by index (a bucket with no item
/// counts 0), and the exact count of each edge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterReads {
    pub hours: BTreeMap<i64, i64>,
    pub minutes: BTreeMap<i64, i64>,
    pub edges: BTreeMap<Edge, i64>,
}

impl CounterReads {
    /// The count of `parts` from what was read.
    pub fn sum(&self, parts: &Parts) -> Result<i64, StatsError> {
        let bucket_sum = |runs: &mut dyn Iterator<Item = &BucketRun>, map: &BTreeMap<i64, i64>| {
            runs.flat_map(BucketRun::indexes)
                .map(|i| map.get(&i).copied().unwrap_or(0))
                .sum::<i64>()
        };
        let mut total = bucket_sum(&mut parts.hours.iter(), &self.hours)
            + bucket_sum(&mut parts.minutes.iter(), &self.minutes);
        for edge in &parts.edges {
            total += self
                .edges
                .get(edge)
                .copied()
                .ok_or(StatsError::MissingEdge(*edge))?;
        }
        Ok(total)
    }
}

/// Each bucket's start and count, in order.
pub fn series_counts(
    plan: &SeriesPlan,
    reads: &CounterReads,
) -> Result<Vec<(i64, i64)>, StatsError> {
    plan.buckets
        .iter()
        .map(|(bucket, parts)| Ok((bucket.start, reads.sum(parts)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;
    use proptest::prelude::*;

    fn us(text: &str) -> i64 {
        time::parse_rfc3339(text).unwrap().timestamp_micros()
    }

    #[test]
    fn intervals_parse_with_hour_as_the_default() {
        assert_eq!(Interval::parse(None), Ok(Interval::Hour));
        assert_eq!(Interval::parse(Some("minute")), Ok(Interval::Minute));
        assert_eq!(Interval::parse(Some("day")), Ok(Interval::Day));
        for bad in ["", "Hour", "week", "minutes"] {
            assert!(Interval::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn buckets_are_aligned_and_clipped_to_the_range() {
        let from = us("2026-11-30T02:30:15Z");
        let to = us("2026-11-30T05:00:00Z");
        let b = buckets(Interval::Hour, from, to).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(
            b[0],
            StatsBucket {
                start: us("2026-11-30T02:00:00Z"),
                from,
                to: us("2026-11-30T03:00:00Z")
            }
        );
        assert_eq!(b[2].to, to);
        let days = buckets(Interval::Day, from, us("2026-12-01T00:00:01Z")).unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(days[1].start, us("2026-12-01T00:00:00Z"));
        assert!(buckets(Interval::Minute, to, to).unwrap().is_empty());
    }

    #[test]
    fn more_than_a_thousand_buckets_is_refused() {
        let from = us("2026-11-30T00:00:00Z");
        assert_eq!(
            buckets(Interval::Minute, from, from + 1000 * MINUTE_US)
                .unwrap()
                .len(),
            1000
        );
        assert_eq!(
            buckets(Interval::Minute, from, from + 1000 * MINUTE_US + 1),
            Err(StatsError::TooManyBuckets {
                buckets: 1001,
                interval: Interval::Minute
            })
        );
    }

    #[test]
    fn a_series_needs_at_most_two_edges_and_few_runs() {
        let plan = plan_series(
            Interval::Day,
            us("2026-11-01T10:20:30Z"),
            us("2026-11-30T12:05:01Z"),
        )
        .unwrap();
        assert_eq!(plan.buckets.len(), 30);
        assert_eq!(plan.edges.len(), 2);
        // The hours of days 1 to 30 are one contiguous run, between a few minutes at each end.
        assert_eq!(plan.hour_runs.len(), 1);
        assert_eq!(plan.minute_runs.len(), 2);
    }

    #[test]
    fn a_missing_edge_is_an_error_not_a_zero() {
        let plan = plan_series(Interval::Hour, 10, HOUR_US).unwrap();
        assert!(matches!(
            series_counts(&plan, &CounterReads::default()),
            Err(StatsError::MissingEdge(_))
        ));
    }

    fn instant() -> impl Strategy<Value = i64> {
        let base = us("2026-11-30T00:00:00Z");
        prop_oneof![
            (0..3 * 24 * HOUR_US).prop_map(move |d| base + d),
            (0..72 * 60i64, -2..3i64).prop_map(move |(m, d)| base + m * MINUTE_US + d),
        ]
    }

    proptest! {
        #[test]
        fn series_counts_equal_brute_force(
            events in proptest::collection::vec(instant(), 0..150),
            a in instant(),
            b in instant(),
            interval in prop_oneof![Just(Interval::Minute), Just(Interval::Hour), Just(Interval::Day)],
        ) {
            let Ok(plan) = plan_series(interval, a, b) else {
                // Only the minute interval can exceed the limit over three days.
                prop_assert_eq!(interval, Interval::Minute);
                return Ok(());
            };
            prop_assert!(plan.edges.len() <= 2);
            let mut reads = CounterReads::default();
            for &t in &events {
                *reads.hours.entry(t.div_euclid(HOUR_US)).or_default() += 1;
                *reads.minutes.entry(t.div_euclid(MINUTE_US)).or_default() += 1;
            }
            for edge in &plan.edges {
                let n = events.iter().filter(|&&t| edge.from <= t && t < edge.to).count();
                reads.edges.insert(*edge, n as i64);
            }
            let counts = series_counts(&plan, &reads).unwrap();
            let width = interval.width_us();
            for (start, n) in counts {
                let expected = events
                    .iter()
                    .filter(|&&t| t >= a.max(start) && t < b.min(start + width))
                    .count() as i64;
                prop_assert_eq!(n, expected, "bucket at {}", start);
            }
        }
    }
}
