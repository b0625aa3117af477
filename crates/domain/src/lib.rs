//! The audit log's domain: what an event is, how it is validated, identified, keyed and queued, and
//! the small ports (queue, store, index) that the AWS adapters implement. Nothing here knows AWS.
//!
//! The domain owns the table's key layout (`layout`) on purpose, though it names DynamoDB's keys:
//! the planner and the merge reason about partitions and `ts` ranges, and owning the layout is what
//! lets them be property-tested against the in-memory reader (`testing::MemoryReader`), which keys
//! its records exactly as the table does. See docs/ARCHITECTURE.md, "Ports and adapters".

pub mod auth;
pub mod backoff;
pub mod counters;
pub mod cursor;
pub mod envelope;
pub mod event;
pub mod fields;
pub mod id;
pub mod layout;
pub mod ports;
pub mod query;
pub mod read;
pub mod seal;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;

pub use event::{Event, NewEvent, Tenant};
pub use fields::FieldErrors;
pub use id::EventId;
