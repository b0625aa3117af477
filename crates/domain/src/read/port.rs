//! The read port: what the read side needs from the store, in domain types only. Every read is a
//! key condition on one index partition with an inclusive range on `ts`, so an adapter needs no
//! knowledge of sorts, filters or cursors.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::{Event, Tenant};
use crate::id::EventId;
use crate::keys;
use crate::ports::StoreError;
use crate::query::Direction;

/// The three global secondary indexes of DESIGN.md.
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
            Index::ByTime => keys::BY_TIME,
            Index::ByName => keys::BY_NAME,
            Index::ByCustomer => keys::BY_CUSTOMER,
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

/// What one request cost the store: requests made and items read (index entries examined, base
/// items fetched), with `Select=COUNT` work apart because it is O(matching), not O(page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCost {
    pub requests: u64,
    pub items_read: u64,
    pub count_requests: u64,
    pub count_items_read: u64,
}

/// Atomic counters behind `ReadCost`, shared by the concurrent calls of one request.
#[derive(Debug, Default)]
pub struct CostMeter {
    requests: AtomicU64,
    items_read: AtomicU64,
    count_requests: AtomicU64,
    count_items_read: AtomicU64,
}

impl CostMeter {
    pub fn record(&self, requests: u64, items_read: u64) {
        self.requests.fetch_add(requests, Ordering::Relaxed);
        self.items_read.fetch_add(items_read, Ordering::Relaxed);
    }

    pub fn record_count(&self, requests: u64, items_read: u64) {
        self.count_requests.fetch_add(requests, Ordering::Relaxed);
        self.count_items_read
            .fetch_add(items_read, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ReadCost {
        ReadCost {
            requests: self.requests.load(Ordering::Relaxed),
            items_read: self.items_read.load(Ordering::Relaxed),
            count_requests: self.count_requests.load(Ordering::Relaxed),
            count_items_read: self.count_items_read.load(Ordering::Relaxed),
        }
    }
}

/// Where the read function reads.
pub trait EventReader: Send + Sync + Sized {
    /// Entries of one partition in `query.direction`, up to `query.limit` of those that pass the
    /// name filter, following the store's own pagination as needed.
    fn query_keys(
        &self,
        query: &IndexQuery,
    ) -> impl Future<Output = Result<KeyPage, StoreError>> + Send;

    /// How many entries of the partition's range pass the name filter (`limit` is ignored).
    fn count(&self, query: &IndexQuery) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The tenant's distinct name keys that start with `prefix`, in ascending order.
    fn names(
        &self,
        tenant: &Tenant,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The events with these ids, in any order; ids with no event are left out.
    fn get_many(
        &self,
        tenant: &Tenant,
        ids: &[EventId],
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;

    fn get(
        &self,
        tenant: &Tenant,
        id: &EventId,
    ) -> impl Future<Output = Result<Option<Event>, StoreError>> + Send;

    /// A handle on the same store whose cost starts at zero, so that concurrent requests served by
    /// one process are metered apart.
    fn metered(&self) -> Self;

    /// What this handle has cost so far.
    fn cost(&self) -> ReadCost;
}
