//! The read ports, split by capability: index queries and counts ([`IndexReader`]), the name
//! catalogue ([`NameCatalogue`]) and events by id ([`EventLookup`]). Every index read is a key
//! condition on one partition with an inclusive range on `ts`, so an adapter needs no knowledge of
//! sorts, filters or cursors. Each answer says what it cost ([`Measured`]).

use std::collections::BTreeMap;
use std::future::Future;

use crate::counters::range::BucketRun;
use crate::event::{Event, Tenant};
use crate::id::EventId;
use crate::layout;
use crate::ports::{Measured, StoreError};
use crate::query::Direction;

/// The three global secondary indexes (docs/ARCHITECTURE.md, "Data model").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// `tp = <tenant>#<shard>`.
    ByTime,
    /// `np = <tenant>#<name_key>`.
    ByName,
    /// `cp = <tenant>#<customer_id>`; projects `name_key`.
    ByCustomer,
}

impl Index {
    pub fn name(self) -> &'static str {
        match self {
            Index::ByTime => layout::BY_TIME,
            Index::ByName => layout::BY_NAME,
            Index::ByCustomer => layout::BY_CUSTOMER,
        }
    }

    /// The attribute that holds this index's partition key.
    pub fn partition_attribute(self) -> &'static str {
        match self {
            Index::ByTime => "tp",
            Index::ByName => "np",
            Index::ByCustomer => "cp",
        }
    }
}

/// Inclusive bounds on `ts`; `None` is open. Because every `ts` has the same width, exclusive
/// bounds become inclusive ones by moving the last byte (see `read::plan`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeyRange {
    pub lo: Option<String>,
    pub hi: Option<String>,
}

impl KeyRange {
    /// True when no key can lie in the range; DynamoDB refuses `BETWEEN` with `lo > hi`, so callers
    /// answer such a range without asking.
    pub fn is_empty(&self) -> bool {
        matches!((&self.lo, &self.hi), (Some(lo), Some(hi)) if lo > hi)
    }

    pub fn contains(&self, ts: &str) -> bool {
        self.lo.as_deref().is_none_or(|lo| ts >= lo) && self.hi.as_deref().is_none_or(|hi| ts <= hi)
    }
}

/// One key condition on one index partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexQuery {
    pub index: Index,
    /// The partition key's value, such as `default#3`.
    pub partition: String,
    pub range: KeyRange,
    pub direction: Direction,
    /// At most this many matching entries; `None` reads to the end of the range.
    pub limit: Option<usize>,
    /// Keep only entries whose `name_key` starts with this (`by_customer` projects `name_key`).
    pub name_prefix: Option<String>,
}

/// One index entry: its `ts`, and its `name_key` where the index projects it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyEntry {
    pub ts: String,
    pub name_key: Option<String>,
}

/// Entries in the query's direction. (Whether more follow is the merge's to work out, from how many
/// it asked for.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    pub entries: Vec<KeyEntry>,
}

/// Key pages and counts of one index partition.
pub trait IndexReader: Send + Sync {
    /// Entries of one partition in `query.direction`, up to `query.limit` of those that pass the
    /// name filter, following the store's own pagination as needed. The cost counts every entry
    /// examined, matching or not.
    fn query_keys(
        &self,
        query: &IndexQuery,
    ) -> impl Future<Output = Result<Measured<KeyPage>, StoreError>> + Send;

    /// How many entries of the partition's range pass the name filter (`limit` is ignored).
    fn count(
        &self,
        query: &IndexQuery,
    ) -> impl Future<Output = Result<Measured<u64>, StoreError>> + Send;
}

/// The event-name catalogue: one small item per distinct name of a tenant.
pub trait NameCatalogue: Send + Sync {
    /// The tenant's distinct name keys that start with `prefix`, in ascending order.
    fn names(
        &self,
        tenant: &Tenant,
        prefix: &str,
    ) -> impl Future<Output = Result<Measured<Vec<String>>, StoreError>> + Send;
}

/// Whole events by id.
pub trait EventLookup: Send + Sync {
    /// The events with these ids, in any order; ids with no event are left out.
    fn get_many(
        &self,
        tenant: &Tenant,
        ids: &[EventId],
    ) -> impl Future<Output = Result<Measured<Vec<Event>>, StoreError>> + Send;

    fn get(
        &self,
        tenant: &Tenant,
        id: &EventId,
    ) -> impl Future<Output = Result<Measured<Option<Event>>, StoreError>> + Send;
}

/// The counters the count function keeps from the table's stream (`crate::counters`), by counter
/// partition (`C#<tenant>` or `C#<tenant>#<name_key>`).
pub trait CounterReader: Send + Sync {
    /// The partition's all-time total; 0 when nothing was ever counted there.
    fn counter_total(
        &self,
        partition: &str,
    ) -> impl Future<Output = Result<Measured<i64>, StoreError>> + Send;

    /// The partition's counters of one run of buckets, by bucket index. A bucket with no item is
    /// left out (it counts 0).
    fn counter_run(
        &self,
        partition: &str,
        run: &BucketRun,
    ) -> impl Future<Output = Result<Measured<BTreeMap<i64, i64>>, StoreError>> + Send;
}

/// Everything the read path needs, as one bound: any type with the four read capabilities.
pub trait ReadStore: IndexReader + NameCatalogue + EventLookup + CounterReader {}

impl<T: IndexReader + NameCatalogue + EventLookup + CounterReader> ReadStore for T {}
