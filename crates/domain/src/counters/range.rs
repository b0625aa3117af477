//! Which counters to sum for an exact count of `[from, to)`. Whole hours in the middle come from
//! hour buckets (30 days is 720 items), whole minutes at either end from minute buckets, and what is
//! left, at most two partial minutes, is counted exactly from the index. With no bounds the total
//! item answers alone.
//!
//! An open `to` cannot be a bucket run to infinity, so it is bounded: `created_at` may be at most
//! five minutes ahead of the clock (`event::MAX_CLOCK_SKEW`), so no event lies at or after
//! [`horizon`] = `now` + 6 minutes, rounded up to a whole minute (the extra minute absorbs clock
//! differences between writer and reader; the rounding keeps the far edge a whole minute, so it
//! needs no index query). Only `to` given: total minus `[to, horizon)`. Only `from`:
//! `[from, horizon)`.

use super::layout::{Bucket, HOUR_US, MINUTE_US};

/// How far past `now` no event can have been created.
pub const HORIZON_US: i64 = 6 * MINUTE_US;

/// `now` + 6 minutes, rounded up to the next whole minute, in microseconds.
pub fn horizon(now_us: i64) -> i64 {
    ceil(now_us + HORIZON_US, MINUTE_US)
}

/// Which kind of time bucket a run is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketKind {
    Hour,
    Minute,
}

impl BucketKind {
    pub fn width_us(self) -> i64 {
        match self {
            BucketKind::Hour => HOUR_US,
            BucketKind::Minute => MINUTE_US,
        }
    }

    pub fn bucket(self, index: i64) -> Bucket {
        match self {
            BucketKind::Hour => Bucket::Hour(index),
            BucketKind::Minute => Bucket::Minute(index),
        }
    }
}

/// A contiguous run of buckets of one kind, by index, both ends included (what
/// `sk BETWEEN lo AND hi` reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BucketRun {
    pub kind: BucketKind,
    pub first: i64,
    pub last: i64,
}

impl BucketRun {
    /// The sort keys to read it with: `sk BETWEEN lo AND hi`.
    pub fn sk_range(&self) -> (String, String) {
        (
            self.kind.bucket(self.first).sk(),
            self.kind.bucket(self.last).sk(),
        )
    }

    /// The run's buckets' indexes, in order.
    pub fn indexes(&self) -> std::ops::RangeInclusive<i64> {
        self.first..=self.last
    }

    /// The microseconds `[start, end)` the run covers.
    pub fn span(&self) -> (i64, i64) {
        let width = self.kind.width_us();
        (self.first * width, (self.last + 1) * width)
    }
}

/// A partial minute `[from, to)` (microseconds) that the index counts exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    pub from: i64,
    pub to: i64,
}

/// The pieces of a bounded range: one run of whole hours, up to two runs of whole minutes (before
/// and after the hours) and up to two partial minutes (at the ends). Empty for an empty range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    pub hours: Option<BucketRun>,
    pub minutes: Vec<BucketRun>,
    pub edges: Vec<Edge>,
}

impl Parts {
    pub fn is_empty(&self) -> bool {
        self.hours.is_none() && self.minutes.is_empty() && self.edges.is_empty()
    }

    /// Every piece as microseconds `[start, end)`, in time order: a partition of the range.
    pub fn spans(&self) -> Vec<(i64, i64)> {
        let mut spans: Vec<(i64, i64)> = self
            .hours
            .iter()
            .chain(&self.minutes)
            .map(BucketRun::span)
            .chain(self.edges.iter().map(|e| (e.from, e.to)))
            .collect();
        spans.sort_unstable();
        spans
    }
}

/// What to sum for one range count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeCount {
    /// The all-time total item.
    Total,
    /// The sum of the parts.
    Parts(Parts),
    /// The total minus the parts (only `to` was given; the parts are `[to, horizon)`).
    TotalMinus(Parts),
}

/// Decomposes `[from, to)` (microseconds; `None` is open) into what to read. `now` bounds an open
/// `to`, see the module docs.
pub fn decompose(from: Option<i64>, to: Option<i64>, now_us: i64) -> RangeCount {
    match (from, to) {
        (None, None) => RangeCount::Total,
        (None, Some(to)) => RangeCount::TotalMinus(parts(to, horizon(now_us))),
        (Some(from), None) => RangeCount::Parts(parts(from, horizon(now_us))),
        (Some(from), Some(to)) => RangeCount::Parts(parts(from, to)),
    }
}

/// The parts of the bounded range `[from, to)`.
pub fn parts(from: i64, to: i64) -> Parts {
    let mut parts = Parts::default();
    if from >= to {
        return parts;
    }
    let (first_minute, last_minute) = (ceil(from, MINUTE_US), floor(to, MINUTE_US));
    if first_minute >= last_minute {
        // No whole minute inside: one exact count serves the lot.
        parts.edges.push(Edge { from, to });
        return parts;
    }
    if from < first_minute {
        parts.edges.push(Edge {
            from,
            to: first_minute,
        });
    }
    if last_minute < to {
        parts.edges.push(Edge {
            from: last_minute,
            to,
        });
    }
    let (first_hour, last_hour) = (ceil(first_minute, HOUR_US), floor(last_minute, HOUR_US));
    if first_hour < last_hour {
        parts.hours = Some(run(first_hour, last_hour, HOUR_US));
        if first_minute < first_hour {
            parts.minutes.push(run(first_minute, first_hour, MINUTE_US));
        }
        if last_hour < last_minute {
            parts.minutes.push(run(last_hour, last_minute, MINUTE_US));
        }
    } else {
        parts
            .minutes
            .push(run(first_minute, last_minute, MINUTE_US));
    }
    parts
}

/// The buckets of width `width` covering `[start, end)`, both multiples of it.
fn run(start: i64, end: i64, width: i64) -> BucketRun {
    let kind = if width == HOUR_US {
        BucketKind::Hour
    } else {
        BucketKind::Minute
    };
    BucketRun {
        kind,
        first: start / width,
        last: end / width - 1,
    }
}

pub(crate) fn floor(t: i64, width: i64) -> i64 {
    t.div_euclid(width) * width
}

pub(crate) fn ceil(t: i64, width: i64) -> i64 {
    -floor(-t, width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn us(text: &str) -> i64 {
        time::parse_rfc3339(text).unwrap().timestamp_micros()
    }

    #[test]
    fn a_long_range_is_hours_between_minutes_between_edges() {
        let p = parts(us("2026-11-30T02:30:15Z"), us("2026-12-02T05:10:01Z"));
        let hours = p.hours.unwrap();
        assert_eq!(
            hours.sk_range(),
            ("H#2026-11-30T03".into(), "H#2026-12-02T04".into())
        );
        assert_eq!(hours.indexes().count(), 50);
        let minutes: Vec<_> = p.minutes.iter().map(BucketRun::sk_range).collect();
        assert_eq!(
            minutes,
            [
                ("M#2026-11-30T02:31".into(), "M#2026-11-30T02:59".into()),
                ("M#2026-12-02T05:00".into(), "M#2026-12-02T05:09".into())
            ]
        );
        assert_eq!(
            p.edges,
            [
                Edge {
                    from: us("2026-11-30T02:30:15Z"),
                    to: us("2026-11-30T02:31:00Z")
                },
                Edge {
                    from: us("2026-12-02T05:10:00Z"),
                    to: us("2026-12-02T05:10:01Z")
                }
            ]
        );
    }

    #[test]
    fn aligned_bounds_need_no_edges_and_small_ranges_no_buckets() {
        let p = parts(us("2026-11-30T02:00:00Z"), us("2026-11-30T04:00:00Z"));
        assert!(p.edges.is_empty() && p.minutes.is_empty());
        assert_eq!(p.hours.unwrap().indexes().count(), 2);
        let inside = parts(us("2026-11-30T02:00:10Z"), us("2026-11-30T02:00:20Z"));
        assert_eq!(inside.edges.len(), 1);
        assert!(inside.hours.is_none() && inside.minutes.is_empty());
        // Straddling one minute boundary without a whole minute: still one exact count.
        let straddle = parts(us("2026-11-30T02:00:50Z"), us("2026-11-30T02:01:20Z"));
        assert_eq!(straddle.edges.len(), 1);
        assert!(parts(5, 5).is_empty() && parts(6, 5).is_empty());
    }

    #[test]
    fn open_bounds_use_the_total_and_the_horizon() {
        let now = us("2026-11-30T02:30:15Z");
        assert_eq!(horizon(now), us("2026-11-30T02:37:00Z"));
        assert_eq!(decompose(None, None, now), RangeCount::Total);
        let to = us("2026-11-30T02:00:00Z");
        assert_eq!(
            decompose(None, Some(to), now),
            RangeCount::TotalMinus(parts(to, horizon(now)))
        );
        let from = us("2026-11-30T01:00:30Z");
        let RangeCount::Parts(p) = decompose(Some(from), None, now) else {
            panic!()
        };
        // The far end is the horizon, a whole minute: only the near edge is counted exactly.
        assert_eq!(p.edges.len(), 1);
        assert_eq!(p.spans().last().unwrap().1, horizon(now));
    }

    /// Counts `events` (microsecond times) in `range` through the decomposition: bucket maps for
    /// whole minutes and hours, exact counts for edges.
    fn count(events: &[i64], range: &RangeCount) -> i64 {
        let mut hours: BTreeMap<i64, i64> = BTreeMap::new();
        let mut minutes: BTreeMap<i64, i64> = BTreeMap::new();
        for &t in events {
            *hours.entry(t.div_euclid(HOUR_US)).or_default() += 1;
            *minutes.entry(t.div_euclid(MINUTE_US)).or_default() += 1;
        }
        let sum = |p: &Parts| -> i64 {
            let hour_sum: i64 = p
                .hours
                .iter()
                .flat_map(BucketRun::indexes)
                .map(|h| hours.get(&h).copied().unwrap_or(0))
                .sum();
            let minute_sum: i64 = p
                .minutes
                .iter()
                .flat_map(BucketRun::indexes)
                .map(|m| minutes.get(&m).copied().unwrap_or(0))
                .sum();
            let edge_sum = p
                .edges
                .iter()
                .map(|e| events.iter().filter(|&&t| e.from <= t && t < e.to).count() as i64)
                .sum::<i64>();
            hour_sum + minute_sum + edge_sum
        };
        match range {
            RangeCount::Total => events.len() as i64,
            RangeCount::Parts(p) => sum(p),
            RangeCount::TotalMinus(p) => events.len() as i64 - sum(p),
        }
    }

    /// Times around 2026-11-30 within a few days, clustered near hour and minute boundaries often
    /// enough to hit the edge cases.
    fn instant() -> impl Strategy<Value = i64> {
        let base = us("2026-11-30T00:00:00Z");
        prop_oneof![
            (0..4 * 24 * HOUR_US).prop_map(move |d| base + d),
            (0..96i64, -2..3i64).prop_map(move |(h, d)| base + h * HOUR_US + d),
            (0..96 * 60i64, -2..3i64).prop_map(move |(m, d)| base + m * MINUTE_US + d),
        ]
    }

    proptest! {
        #[test]
        fn parts_partition_the_range_exactly(a in instant(), b in instant()) {
            let p = parts(a, b);
            let spans = p.spans();
            if a >= b {
                prop_assert!(spans.is_empty());
            } else {
                prop_assert_eq!(spans.first().unwrap().0, a);
                prop_assert_eq!(spans.last().unwrap().1, b);
                for pair in spans.windows(2) {
                    // No overlap, no gap.
                    prop_assert_eq!(pair[0].1, pair[1].0);
                }
                prop_assert!(spans.iter().all(|(s, e)| s < e));
                prop_assert!(p.edges.len() <= 2 && p.minutes.len() <= 2);
                prop_assert!(p.edges.iter().all(|e| e.to - e.from < 2 * MINUTE_US));
            }
        }

        #[test]
        fn decomposed_counts_equal_brute_force(
            events in proptest::collection::vec(instant(), 0..200),
            from in proptest::option::of(instant()),
            to in proptest::option::of(instant()),
            now in instant(),
        ) {
            // No event is created past the clock's skew, as the write path guarantees.
            let events: Vec<i64> = events.into_iter().filter(|&t| t <= now + 5 * MINUTE_US).collect();
            let expected = events
                .iter()
                .filter(|&&t| from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e))
                .count() as i64;
            prop_assert_eq!(count(&events, &decompose(from, to, now)), expected);
        }
    }
}
