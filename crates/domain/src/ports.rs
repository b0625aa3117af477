//! The ports: one small trait per capability, taking and returning domain types only. Handlers are
//! generic over them, so tests and fault injectors can stand in for AWS.

use std::future::Future;

use crate::event::Event;
use crate::keys::{CatalogueRecord, EventRecord};

/// Why the queue refused. The source is kept for the log; clients only ever see a generic 500.
#[derive(Debug, thiserror::Error)]
#[error("the event queue is unavailable: {message}")]
pub struct QueueError {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Where the write function hands accepted events over.
pub trait EventQueue: Send + Sync {
    /// Enqueues every event or fails: on `Ok` all of them are durably queued.
    fn enqueue(&self, events: &[Event]) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// One item the drain writes.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // Records are built once and moved, never copied in bulk.
pub enum Record {
    Event(EventRecord),
    Name(CatalogueRecord),
}

impl Record {
    /// The base-table key; BatchWriteItem refuses two writes of one key in a request.
    pub fn key(&self) -> (&str, &str) {
        match self {
            Record::Event(r) => (&r.pk, &r.sk),
            Record::Name(r) => (&r.pk, &r.sk),
        }
    }
}

/// Why a store call failed, split by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, a timeout, a 5xx: the same call may succeed later.
    #[error("the event store is unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The request itself is wrong (validation, too large): retrying it cannot help.
    #[error("the event store rejected the request: {message}")]
    Rejected {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// Where the drain writes.
pub trait EventStore: Send + Sync {
    /// Maximum records in one `write` call (DynamoDB's BatchWriteItem takes 25).
    const MAX_BATCH: usize = 25;

    /// Puts up to `MAX_BATCH` records with distinct keys. Returns the records the store did not
    /// process this time (DynamoDB's `UnprocessedItems`), which the caller retries.
    fn write(
        &self,
        records: Vec<Record>,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send;
}
