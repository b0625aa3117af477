//! Which index partitions answer a query, and the `ts` ranges to read them with.
//!
//! Bounds are always inclusive strings. `from` maps to `lo = fixed(from)`, `to` (exclusive) to
//! `hi = fixed(to)`: every `ts` extends its fixed time with `#id`, so a `ts` at exactly `to` sorts
//! above `hi`. Every `ts` has the same width, so "strictly after p" is `>= succ(p)` and "strictly
//! before p" is `<= pred(p)`, where succ/pred move p's last byte by one.

use std::cmp::Ordering;

use crate::event::Tenant;
use crate::layout;
use crate::ports::StoreError;
use crate::ports::{Index, KeyRange, NameCatalogue};
use crate::query::{Direction, Filters, ReadQuery, SortKey};
use crate::time;

/// How a query is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Nothing can match (an event-name prefix that no stored name has).
    Empty,
    /// Time sorts: read each partition up to the page's end and merge them by `ts`.
    Merge {
        index: Index,
        partitions: Vec<String>,
        name_prefix: Option<String>,
        /// The catalogue's names behind `by_name` partitions (empty for the other indexes), whose
        /// counters answer the total.
        names: Vec<String>,
    },
    /// Name sorts: walk the catalogue's names in the sort's direction, one `by_name` partition
    /// each, until the page is full.
    Names { tenant: Tenant, names: Vec<String> },
    /// Customer and name sort: the one plan that reads the customer's whole range, then sorts it
    /// by `(name_key, ts)` in memory. `by_customer` is ordered by `ts` only.
    CustomerByName {
        partition: String,
        name_prefix: Option<String>,
    },
}

impl Plan {
    /// Chooses the plan; reads the name catalogue when the plan depends on it.
    pub(crate) async fn choose<R: NameCatalogue>(
        store: &R,
        tenant: &Tenant,
        shards: u32,
        query: &ReadQuery,
    ) -> Result<Plan, StoreError> {
        let prefix = query.filters.name_prefix.clone();
        if let Some(customer) = query.filters.customer_id {
            let partition = layout::customer_partition(tenant, customer);
            return Ok(match query.sort.key {
                SortKey::CreatedAt => Plan::Merge {
                    index: Index::ByCustomer,
                    partitions: vec![partition],
                    name_prefix: prefix,
                    names: Vec::new(),
                },
                SortKey::EventName => Plan::CustomerByName {
                    partition,
                    name_prefix: prefix,
                },
            });
        }
        if query.sort.key == SortKey::CreatedAt && prefix.is_none() {
            return Ok(Plan::Merge {
                index: Index::ByTime,
                partitions: (0..shards.max(1))
                    .map(|s| layout::time_partition(tenant, s))
                    .collect(),
                name_prefix: None,
                names: Vec::new(),
            });
        }
        let mut names = store
            .names(tenant, prefix.as_deref().unwrap_or(""))
            .await?
            .value;
        if names.is_empty() {
            return Ok(Plan::Empty);
        }
        Ok(match query.sort.key {
            SortKey::CreatedAt => Plan::Merge {
                index: Index::ByName,
                partitions: names
                    .iter()
                    .map(|n| layout::name_partition(tenant, n))
                    .collect(),
                name_prefix: None,
                names,
            },
            SortKey::EventName => {
                if query.sort.direction == Direction::Desc {
                    names.reverse();
                }
                Plan::Names {
                    tenant: tenant.clone(),
                    names,
                }
            }
        })
    }
}

/// The range that `from` and `to` allow.
pub(crate) fn filter_range(filters: &Filters) -> KeyRange {
    KeyRange {
        lo: filters.from.as_ref().map(time::to_fixed),
        hi: filters.to.as_ref().map(time::to_fixed),
    }
}

/// The part of `range` that lies strictly after `ts` when walking in `direction`.
pub(crate) fn after(range: &KeyRange, ts: &str, direction: Direction) -> KeyRange {
    match direction {
        Direction::Asc => KeyRange {
            lo: Some(
                range
                    .lo
                    .clone()
                    .map_or_else(|| succ(ts), |lo| lo.max(succ(ts))),
            ),
            hi: range.hi.clone(),
        },
        Direction::Desc => KeyRange {
            lo: range.lo.clone(),
            hi: Some(
                range
                    .hi
                    .clone()
                    .map_or_else(|| pred(ts), |hi| hi.min(pred(ts))),
            ),
        },
    }
}

/// Compares two keys as `direction` walks them: `Less` means `a` comes first.
pub(crate) fn in_direction<T: Ord + ?Sized>(a: &T, b: &T, direction: Direction) -> Ordering {
    match direction {
        Direction::Asc => a.cmp(b),
        Direction::Desc => b.cmp(a),
    }
}

/// No key of the same width lies strictly between `ts` and `succ(ts)`, so for index keys
/// `>= succ(ts)` means `> ts`. `ts` is visible ASCII, so the result stays valid UTF-8.
fn succ(ts: &str) -> String {
    shift_last(ts, 1)
}

fn pred(ts: &str) -> String {
    shift_last(ts, -1)
}

fn shift_last(ts: &str, by: i8) -> String {
    let mut bytes = ts.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last = last.wrapping_add_signed(by);
    }
    String::from_utf8(bytes).expect("index keys are visible ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "2024-01-01T00:00:00.000000Z#01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const B: &str = "2024-01-01T00:00:00.000000Z#01ARZ3NDEKTSV4RRFFQ69G5FAW";
    const C: &str = "2024-01-01T00:00:00.000000Z#01ARZ3NDEKTSV4RRFFQ69G5FAX";

    #[test]
    fn after_excludes_the_position_and_keeps_its_neighbours() {
        let asc = after(&KeyRange::default(), B, Direction::Asc);
        assert!(!asc.contains(A) && !asc.contains(B) && asc.contains(C));
        let desc = after(&KeyRange::default(), B, Direction::Desc);
        assert!(desc.contains(A) && !desc.contains(B) && !desc.contains(C));
    }

    #[test]
    fn after_keeps_the_tighter_bound() {
        let range = KeyRange {
            lo: Some("2025".to_owned()),
            hi: Some("2023".to_owned()),
        };
        assert_eq!(after(&range, B, Direction::Asc).lo.as_deref(), Some("2025"));
        assert_eq!(
            after(&range, B, Direction::Desc).hi.as_deref(),
            Some("2023")
        );
    }

    #[test]
    fn to_is_exclusive_and_from_inclusive() {
        let filters = Filters {
            from: time::parse_rfc3339("2024-01-01T00:00:00Z"),
            to: time::parse_rfc3339("2024-01-01T00:00:00.000001Z"),
            ..Filters::default()
        };
        let range = filter_range(&filters);
        assert!(range.contains(A));
        assert!(!range.contains("2024-01-01T00:00:00.000001Z#01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(!range.contains("2023-12-31T23:59:59.999999Z#01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    }

    #[test]
    fn a_range_past_its_end_is_empty() {
        let range = after(
            &KeyRange {
                lo: None,
                hi: Some(B.to_owned()),
            },
            B,
            Direction::Asc,
        );
        assert!(range.is_empty());
        assert!(!KeyRange::default().is_empty());
    }
}
