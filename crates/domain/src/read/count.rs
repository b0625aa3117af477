//! Counts from the counters the count function keeps (`crate::counters`): `total_records` and the
//! series of `GET /api/stats`. A range is whole hours and minutes read from counter items, plus at
//! most two partial minutes at its ends, which are counted exactly from the index. So a count reads
//! a number of items that depends on the range's length and the number of matching names, never on
//! how many events are stored.
//!
//! Customers have no counters (their per-event write cost is in docs/ARCHITECTURE.md): a customer's
//! total is a `Select=COUNT` of `by_customer` over the range, and its series buckets the entries it
//! reads, at most [`CUSTOMER_SERIES_LIMIT`] of them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::future::{try_join_all, BoxFuture};

use crate::counters::range::{self, BucketKind, BucketRun, Edge, Parts, RangeCount};
use crate::counters::stats::{self, CounterReads, Interval, StatsError};
use crate::counters::{name_partition, tenant_partition};
use crate::event::Tenant;
use crate::fields::FieldErrors;
use crate::layout;
use crate::ports::{
    CounterReader, Index, IndexQuery, IndexReader, KeyRange, NameCatalogue, StoreError,
};
use crate::query::{Direction, Filters};
use crate::read::plan::{filter_range, Plan};
use crate::read::ReadError;
use crate::time;

/// The most of one customer's entries that a series buckets; beyond it the query must narrow.
pub const CUSTOMER_SERIES_LIMIT: usize = 10_000;

/// Calls made at the same time: enough to hide latency, few enough not to burst throttling.
const FAN_OUT: usize = 16;

/// What answers a count: counter partitions, and the index partitions that count the edges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Nothing can match.
    Empty,
    /// Counted from counters (summed over `counters`), edges from `edge_partitions` of `index`.
    Counters {
        counters: Vec<String>,
        index: Index,
        edge_partitions: Vec<String>,
    },
    /// One customer, counted at read time from `by_customer`.
    Customer {
        partition: String,
        name_prefix: Option<String>,
    },
}

impl Scope {
    /// The scope of `filters`. `names` are the catalogue's names for a name prefix (read only when
    /// there is one and no customer).
    pub(crate) fn new(tenant: &Tenant, shards: u32, filters: &Filters, names: Vec<String>) -> Self {
        if let Some(customer) = filters.customer_id {
            return Scope::Customer {
                partition: layout::customer_partition(tenant, customer),
                name_prefix: filters.name_prefix.clone(),
            };
        }
        match &filters.name_prefix {
            None => Scope::Counters {
                counters: vec![tenant_partition(tenant)],
                index: Index::ByTime,
                edge_partitions: (0..shards.max(1))
                    .map(|s| layout::time_partition(tenant, s))
                    .collect(),
            },
            Some(_) if names.is_empty() => Scope::Empty,
            Some(_) => Scope::Counters {
                counters: names.iter().map(|n| name_partition(tenant, n)).collect(),
                index: Index::ByName,
                edge_partitions: names
                    .iter()
                    .map(|n| layout::name_partition(tenant, n))
                    .collect(),
            },
        }
    }

    /// The scope of a read's plan, which has already read the names it needs. A plan that gets its
    /// total for free (`CustomerByName`) or matches nothing needs no count.
    pub(crate) fn of_plan(plan: &Plan, tenant: &Tenant, shards: u32, filters: &Filters) -> Self {
        let names = match plan {
            Plan::Empty | Plan::CustomerByName { .. } => return Scope::Empty,
            Plan::Merge { names, .. } | Plan::Names { names, .. } => names.clone(),
        };
        Self::new(tenant, shards, filters, names)
    }

    /// Reads the catalogue when the filters need its names, then builds the scope.
    pub(crate) async fn read<R: NameCatalogue>(
        store: &R,
        tenant: &Tenant,
        shards: u32,
        filters: &Filters,
    ) -> Result<Self, StoreError> {
        let names = match (&filters.name_prefix, filters.customer_id) {
            (Some(prefix), None) => store.names(tenant, prefix).await?.value,
            _ => Vec::new(),
        };
        Ok(Self::new(tenant, shards, filters, names))
    }
}

/// The `by_customer` query of one customer's partition over `range`.
fn customer_query(
    partition: &str,
    name_prefix: &Option<String>,
    range: KeyRange,
    limit: Option<usize>,
) -> IndexQuery {
    IndexQuery {
        index: Index::ByCustomer,
        partition: partition.to_owned(),
        range,
        direction: Direction::Asc,
        limit,
        name_prefix: name_prefix.clone(),
    }
}

type Job<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// Runs the jobs, `FAN_OUT` at a time, keeping their order.
async fn run_all<T>(jobs: Vec<Job<'_, T>>) -> Result<Vec<T>, StoreError> {
    let mut results = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let chunk: Vec<_> = jobs.by_ref().take(FAN_OUT).collect();
        results.extend(try_join_all(chunk).await?);
    }
    Ok(results)
}

fn micros_to_fixed(us: i64) -> String {
    time::to_fixed(&DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default())
}

/// The index range `[from, to)` (microseconds), in the bounds convention of `read::plan`.
fn edge_range(edge: &Edge) -> KeyRange {
    KeyRange {
        lo: Some(micros_to_fixed(edge.from)),
        hi: Some(micros_to_fixed(edge.to)),
    }
}

fn micros(t: &Option<DateTime<Utc>>) -> Option<i64> {
    t.as_ref().map(DateTime::timestamp_micros)
}

/// Jobs that count `edges` exactly over the partitions of `index`, each answering `(edge, count)`.
fn edge_jobs<'a, R: IndexReader>(
    store: &'a R,
    index: Index,
    partitions: &[String],
    edges: &[Edge],
) -> Vec<Job<'a, (Edge, i64)>> {
    let mut jobs: Vec<Job<'a, (Edge, i64)>> = Vec::new();
    for edge in edges {
        for partition in partitions {
            let query = IndexQuery {
                index,
                partition: partition.clone(),
                range: edge_range(edge),
                direction: Direction::Asc,
                limit: None,
                name_prefix: None,
            };
            let edge = *edge;
            jobs.push(Box::pin(async move {
                let n = store.count(&query).await?.value;
                Ok((edge, i64::try_from(n).unwrap_or(i64::MAX)))
            }));
        }
    }
    jobs
}

/// Reads every run of every counter partition and every edge: what `CounterReads::sum` needs.
async fn read_counters<R: IndexReader + CounterReader>(
    store: &R,
    counters: &[String],
    index: Index,
    edge_partitions: &[String],
    runs: &[BucketRun],
    edges: &[Edge],
) -> Result<CounterReads, StoreError> {
    let mut jobs: Vec<Job<'_, (BucketKind, BTreeMap<i64, i64>)>> = Vec::new();
    for partition in counters {
        for run in runs {
            let run = *run;
            jobs.push(Box::pin(async move {
                Ok((run.kind, store.counter_run(partition, &run).await?.value))
            }));
        }
    }
    let (buckets, edge_counts) = futures::try_join!(
        run_all(jobs),
        run_all(edge_jobs(store, index, edge_partitions, edges))
    )?;
    let mut reads = CounterReads::default();
    for (kind, found) in buckets {
        let map = match kind {
            BucketKind::Hour => &mut reads.hours,
            BucketKind::Minute => &mut reads.minutes,
        };
        for (i, n) in found {
            *map.entry(i).or_insert(0) += n;
        }
    }
    for edge in edges {
        reads.edges.insert(*edge, 0);
    }
    for (edge, n) in edge_counts {
        *reads.edges.entry(edge).or_insert(0) += n;
    }
    Ok(reads)
}

fn runs_of(parts: &Parts) -> Vec<BucketRun> {
    parts.hours.iter().chain(&parts.minutes).copied().collect()
}

/// The exact count of `parts` over the scope's counters and edges.
async fn parts_count<R: IndexReader + CounterReader>(
    store: &R,
    counters: &[String],
    index: Index,
    edge_partitions: &[String],
    parts: &Parts,
) -> Result<i64, StoreError> {
    if parts.is_empty() {
        return Ok(0);
    }
    let reads = read_counters(
        store,
        counters,
        index,
        edge_partitions,
        &runs_of(parts),
        &parts.edges,
    )
    .await?;
    // Every edge of `parts` was read, so the sum cannot miss one.
    Ok(reads.sum(parts).unwrap_or(0))
}

async fn totals<R: CounterReader>(store: &R, counters: &[String]) -> Result<i64, StoreError> {
    let jobs: Vec<Job<'_, i64>> = counters
        .iter()
        .map(|p| -> Job<'_, i64> {
            Box::pin(async move { Ok(store.counter_total(p).await?.value) })
        })
        .collect();
    Ok(run_all(jobs).await?.into_iter().sum())
}

/// How many events match `filters`, from the counters (or the index, for a customer). `now_us`
/// bounds an open `to` (`counters::range::horizon`).
pub(crate) async fn total<R: IndexReader + CounterReader>(
    store: &R,
    scope: &Scope,
    filters: &Filters,
    now_us: i64,
) -> Result<u64, StoreError> {
    let (counters, index, edge_partitions) = match scope {
        Scope::Empty => return Ok(0),
        Scope::Customer {
            partition,
            name_prefix,
        } => {
            let query = customer_query(partition, name_prefix, filter_range(filters), None);
            if query.range.is_empty() {
                return Ok(0);
            }
            return Ok(store.count(&query).await?.value);
        }
        Scope::Counters {
            counters,
            index,
            edge_partitions,
        } => (counters, *index, edge_partitions),
    };
    let count = match range::decompose(micros(&filters.from), micros(&filters.to), now_us) {
        RangeCount::Total => totals(store, counters).await?,
        RangeCount::Parts(parts) => {
            parts_count(store, counters, index, edge_partitions, &parts).await?
        }
        RangeCount::TotalMinus(parts) => {
            let (all, after) = futures::try_join!(
                totals(store, counters),
                parts_count(store, counters, index, edge_partitions, &parts)
            )?;
            all - after
        }
    };
    // A counter can be briefly behind another while the count function catches up.
    Ok(u64::try_from(count).unwrap_or(0))
}

/// One bucket of a series: where it starts (microseconds) and its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesBucket {
    pub start: i64,
    pub count: u64,
}

/// A series of counts for `GET /api/stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub interval: Interval,
    pub buckets: Vec<SeriesBucket>,
    pub total: u64,
}

impl Series {
    /// The body of `200 GET /api/stats`.
    pub fn to_json(&self) -> serde_json::Value {
        let at = |us: i64| {
            time::to_rfc3339(&DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default())
        };
        serde_json::json!({
            "interval": self.interval.as_str(),
            "buckets": self.buckets.iter().map(|b| serde_json::json!({
                "start": at(b.start),
                "count": b.count,
            })).collect::<Vec<_>>(),
            "total": self.total,
        })
    }
}

/// How far back a series reaches when `from` is not given: a day of hours, an hour of minutes, 30
/// days of days.
fn default_span_us(interval: Interval) -> i64 {
    match interval {
        Interval::Minute => 60 * interval.width_us(),
        Interval::Hour => 24 * interval.width_us(),
        Interval::Day => 30 * interval.width_us(),
    }
}

/// The range a series covers: `to` defaults to the end of the interval that holds `now`, `from` to
/// [`default_span_us`] before `to`.
fn series_range(filters: &Filters, interval: Interval, now_us: i64) -> (i64, i64) {
    let width = interval.width_us();
    let to = micros(&filters.to).unwrap_or_else(|| (now_us.div_euclid(width) + 1) * width);
    let from = micros(&filters.from).unwrap_or(to - default_span_us(interval));
    (from, to)
}

fn too_broad(field: &str, message: String) -> ReadError {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    ReadError::TooBroad(errors)
}

/// The series of `filters` at `interval`: every bucket of the range, empty ones included.
pub async fn series<R: IndexReader + CounterReader + NameCatalogue>(
    store: &R,
    tenant: &Tenant,
    shards: u32,
    filters: &Filters,
    interval: Interval,
    now_us: i64,
) -> Result<Series, ReadError> {
    let (from, to) = series_range(filters, interval, now_us);
    let plan = stats::plan_series(interval, from, to).map_err(|e| match e {
        StatsError::TooManyBuckets { .. } => too_broad(
            "interval",
            format!(
                "{e}; narrow from and to, or choose a wider interval (at most {} buckets)",
                stats::MAX_BUCKETS
            ),
        ),
        other => too_broad("interval", other.to_string()),
    })?;
    let scope = Scope::read(store, tenant, shards, filters).await?;
    let counts: Vec<(i64, i64)> = match &scope {
        Scope::Empty => plan.buckets.iter().map(|(b, _)| (b.start, 0)).collect(),
        Scope::Counters {
            counters,
            index,
            edge_partitions,
        } => {
            let runs: Vec<BucketRun> = plan
                .hour_runs
                .iter()
                .chain(&plan.minute_runs)
                .copied()
                .collect();
            let reads =
                read_counters(store, counters, *index, edge_partitions, &runs, &plan.edges).await?;
            stats::series_counts(&plan, &reads).map_err(|e| too_broad("interval", e.to_string()))?
        }
        Scope::Customer {
            partition,
            name_prefix,
        } => {
            let range = KeyRange {
                lo: Some(micros_to_fixed(from)),
                hi: Some(micros_to_fixed(to)),
            };
            let query = customer_query(
                partition,
                name_prefix,
                range,
                Some(CUSTOMER_SERIES_LIMIT + 1),
            );
            let entries = store.query_keys(&query).await?.value.entries;
            if entries.len() > CUSTOMER_SERIES_LIMIT {
                return Err(too_broad(
                    "customer_id",
                    format!(
                        "a customer's series is limited to {CUSTOMER_SERIES_LIMIT} events; narrow \
                         it with from and to"
                    ),
                ));
            }
            let mut counts: Vec<(i64, i64)> =
                plan.buckets.iter().map(|(b, _)| (b.start, 0)).collect();
            for entry in entries {
                let Some(at) = layout::time_of_ts(&entry.ts) else {
                    continue;
                };
                let at = at.timestamp_micros();
                let slot = plan
                    .buckets
                    .partition_point(|(b, _)| b.from <= at)
                    .checked_sub(1);
                if let Some(slot) = slot.filter(|&s| at < plan.buckets[s].0.to) {
                    counts[slot].1 += 1;
                }
            }
            counts
        }
    };
    let buckets: Vec<SeriesBucket> = counts
        .into_iter()
        .map(|(start, count)| SeriesBucket {
            start,
            count: u64::try_from(count).unwrap_or(0),
        })
        .collect();
    Ok(Series {
        interval,
        total: buckets.iter().map(|b| b.count).sum(),
        buckets,
    })
}
