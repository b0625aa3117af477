//! Reading one page's index entries for a plan.
//!
//! The page window: skip `offset` entries (zero after a cursor), keep `page_size`, and read one more
//! to know whether another page follows. Each partition is asked for at most
//! `offset + page_size + 1` entries, which is enough: the first `n` entries of a merge are among the
//! first `n` of every partition.

use std::future::Future;

use futures::future::try_join_all;

use crate::fields::FieldErrors;
use crate::layout;
use crate::ports::StoreError;
use crate::ports::{Index, IndexQuery, IndexReader, KeyEntry, KeyPage, KeyRange};
use crate::query::{Direction, ReadQuery};
use crate::read::plan::{after, filter_range, in_direction, Plan};
use crate::read::ReadError;

/// The most of one customer's events that `customer_id` with `sort=event_name` sorts in memory.
/// `by_customer` is ordered by time only, so that sort reads the customer's whole range: this keeps
/// its cost (about 160 read units at the limit) and its memory bounded, and a broader query is
/// asked to narrow its time range rather than run into the function's timeout.
pub const CUSTOMER_NAME_SORT_LIMIT: usize = 10_000;

/// Partitions asked at the same time: enough to hide latency, few enough not to burst throttling.
const FAN_OUT: usize = 16;

/// The entries of one page, in order, and whether more follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Window {
    pub entries: Vec<KeyEntry>,
    pub has_more: bool,
}

/// Cuts the page out of entries that are already in order and start at the page's beginning
/// minus `offset`.
fn cut(entries: Vec<KeyEntry>, offset: usize, size: usize) -> Window {
    let has_more = entries.len() > offset + size;
    Window {
        entries: entries.into_iter().skip(offset).take(size).collect(),
        has_more,
    }
}

/// Runs `call` on every query, `FAN_OUT` at a time, keeping their order. (Chunks rather than a
/// buffered stream: a stream of borrowing closures loses `Send`, which Lambda needs.)
async fn fan_out<'q, T, F, Fut>(queries: &'q [IndexQuery], call: F) -> Result<Vec<T>, StoreError>
where
    F: Fn(&'q IndexQuery) -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut results = Vec::with_capacity(queries.len());
    for chunk in queries.chunks(FAN_OUT) {
        results.extend(try_join_all(chunk.iter().map(&call)).await?);
    }
    Ok(results)
}

async fn query_one<R: IndexReader>(store: &R, query: &IndexQuery) -> Result<KeyPage, StoreError> {
    if query.range.is_empty() || query.limit == Some(0) {
        return Ok(KeyPage::default());
    }
    Ok(store.query_keys(query).await?.value)
}

fn partition_queries(
    index: Index,
    partitions: &[String],
    range: &KeyRange,
    direction: Direction,
    limit: Option<usize>,
    name_prefix: &Option<String>,
) -> Vec<IndexQuery> {
    partitions
        .iter()
        .map(|partition| IndexQuery {
            index,
            partition: partition.clone(),
            range: range.clone(),
            direction,
            limit,
            name_prefix: name_prefix.clone(),
        })
        .collect()
}

/// Reads the page's entries. `CustomerByName` also yields its total, which it gets for free.
pub(crate) async fn window<R: IndexReader>(
    store: &R,
    plan: &Plan,
    query: &ReadQuery,
) -> Result<(Window, Option<u64>), ReadError> {
    let offset = usize::try_from(query.offset()).unwrap_or(usize::MAX);
    let size = query.page_size.get() as usize;
    let need = offset.saturating_add(size + 1);
    let direction = query.sort.direction;
    let base = filter_range(&query.filters);
    let resume = query.after.as_ref();

    match plan {
        Plan::Empty => Ok((Window::default(), Some(0))),
        Plan::Merge {
            index,
            partitions,
            name_prefix,
            ..
        } => {
            let range = resume.map_or_else(|| base.clone(), |p| after(&base, &p.ts, direction));
            let queries = partition_queries(
                *index,
                partitions,
                &range,
                direction,
                Some(need),
                name_prefix,
            );
            let pages = fan_out(&queries, |q| query_one(store, q)).await?;
            let mut entries: Vec<KeyEntry> = pages.into_iter().flat_map(|p| p.entries).collect();
            entries.sort_unstable_by(|a, b| in_direction(&a.ts, &b.ts, direction));
            entries.truncate(need);
            Ok((cut(entries, offset, size), None))
        }
        Plan::Names { tenant, names } => {
            let mut entries = Vec::new();
            for name in names {
                if entries.len() >= need {
                    break;
                }
                let range = match resume.and_then(|p| Some((p.name_key.as_deref()?, &p.ts))) {
                    Some((at, ts)) => match in_direction(name.as_str(), at, direction) {
                        std::cmp::Ordering::Less => continue,
                        std::cmp::Ordering::Equal => after(&base, ts, direction),
                        std::cmp::Ordering::Greater => base.clone(),
                    },
                    None => base.clone(),
                };
                let q = IndexQuery {
                    index: Index::ByName,
                    partition: layout::name_partition(tenant, name),
                    range,
                    direction,
                    limit: Some(need - entries.len()),
                    name_prefix: None,
                };
                let page = query_one(store, &q).await?;
                entries.extend(page.entries.into_iter().map(|e| KeyEntry {
                    ts: e.ts,
                    name_key: Some(name.clone()),
                }));
            }
            Ok((cut(entries, offset, size), None))
        }
        Plan::CustomerByName {
            partition,
            name_prefix,
        } => {
            let q = IndexQuery {
                index: Index::ByCustomer,
                partition: partition.clone(),
                range: base,
                direction: Direction::Asc,
                limit: Some(CUSTOMER_NAME_SORT_LIMIT + 1),
                name_prefix: name_prefix.clone(),
            };
            let mut entries = query_one(store, &q).await?.entries;
            if entries.len() > CUSTOMER_NAME_SORT_LIMIT {
                let mut errors = FieldErrors::new();
                errors.add(
                    "sort",
                    format!(
                        "sorting one customer's events by event_name is limited to \
                         {CUSTOMER_NAME_SORT_LIMIT} events; narrow it with from and to, or sort by \
                         created_at"
                    ),
                );
                return Err(ReadError::TooBroad(errors));
            }
            let total = entries.len() as u64;
            // Borrowed keys: up to 10,000 entries are sorted, and each `ts` is unique.
            fn key(e: &KeyEntry) -> (&str, &str) {
                (e.name_key.as_deref().unwrap_or(""), e.ts.as_str())
            }
            entries.sort_unstable_by(|a, b| in_direction(&key(a), &key(b), direction));
            if let Some(p) = resume {
                let at = (p.name_key.as_deref().unwrap_or(""), p.ts.as_str());
                entries.retain(|e| in_direction(&key(e), &at, direction).is_gt());
            }
            Ok((cut(entries, offset, size), Some(total)))
        }
    }
}
