//! The audit log's domain: what an event is, how it is validated, identified, keyed and queued, and
//! the small ports (queue, store, index) that the AWS adapters implement. Nothing here knows AWS.

pub mod auth;
pub mod counters;
pub mod cursor;
pub mod envelope;
pub mod event;
pub mod fields;
pub mod id;
pub mod keys;
pub mod ports;
pub mod query;
pub mod read;
pub mod time;

pub use event::{Event, NewEvent, Tenant};
pub use fields::FieldErrors;
pub use id::EventId;
