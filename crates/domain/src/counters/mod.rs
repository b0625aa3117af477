//! Exact event counts kept as counters, so that a read's `total_records` is a handful of item reads
//! instead of a `Select=COUNT` over every matching index entry.
//!
//! The count function consumes the table's stream (NEW_AND_OLD_IMAGES): each record's old and new
//! images give its [`deltas`], a batch's deltas are summed into an [`Aggregate`] and cut into
//! prefix [`Chunk`]s, and each chunk is applied in one transaction together with the shard's
//! checkpoint ([`CounterStore`]). Reads sum counters: [`range::decompose`] says which, and
//! [`stats`] does the same for a bucketed series. The operator's recount ([`Recount`]) counts a
//! scan's events by the same rule and compares the stored counters with it.
//!
//! Maintained: per tenant and per (tenant, name key), each as an all-time total, hour buckets and
//! minute buckets by `created_at`. Customers are counted at read time (see [`Dimension`]).

mod delta;
mod layout;
#[cfg(any(test, feature = "testing"))]
mod memory;
mod plan;
mod port;
pub mod range;
mod recount;
pub mod stats;

pub use delta::{deltas, EventImage};
pub use layout::{
    name_partition, name_partition_prefix, tenant_partition, Bucket, CounterKey, Dimension,
    SequenceNumber, ShardId, CHECKPOINT_ATTRIBUTE, CHECKPOINT_PK, COUNTER_PREFIX, COUNT_ATTRIBUTE,
    DAY_US, HOUR_US, MINUTE_US, SEQUENCE_WIDTH, TOTAL_SK,
};
#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryCounters;
pub use plan::{
    plan, write_cost, Aggregate, Change, Chunk, WriteCost, MAX_COUNTERS,
    UNITS_PER_TRANSACTIONAL_WRITE,
};
pub use port::{Applied, CounterStore};
pub use recount::{Comparison, Difference, Recount};
