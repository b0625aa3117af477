//! Every port of the domain, in one place: one small trait per capability, taking and returning
//! domain types only. The AWS adapters (`audit-aws`) implement them on SQS and DynamoDB; the fakes in
//! [`crate::testing`] implement them in memory. Handlers are generic over the ports they use, so that
//! tests and fault injectors can stand in for AWS (docs/ARCHITECTURE.md, "Ports and adapters").
//!
//! | port | capability | adapter |
//! |---|---|---|
//! | [`EventQueue`] | hand accepted events over (write) | `SqsQueue` |
//! | [`EventStore`] | batch-put event and catalogue items (drain) | `DynamoStore` |
//! | [`IndexReader`] | key pages and counts of one index partition (read) | `DynamoReader` |
//! | [`NameCatalogue`] | a tenant's distinct names by prefix (read) | `DynamoReader` |
//! | [`EventLookup`] | whole events by id (read) | `DynamoReader` |
//! | [`KeyStore`] | API key records by id (write, read) | `DynamoKeys` |
//!
//! Metering is not a port method: each read port answers with what it cost ([`Measured`]), and
//! [`Metered`] wraps any reader to add those costs up per request.

mod metered;
mod read;

use std::future::Future;

use crate::auth::{KeyId, KeyRecord};
use crate::event::Event;
use crate::layout::{CatalogueRecord, EventRecord};

pub use metered::{CostMeter, Measured, Metered, ReadCost};
pub use read::{
    CounterReader, EventLookup, Index, IndexQuery, IndexReader, KeyEntry, KeyPage, KeyRange,
    NameCatalogue, ReadStore,
};

/// The cause behind a port error, kept for the log only.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why the queue refused: the operation that failed, with the cause as the source. Clients only
/// ever see a generic 500.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed")]
pub struct QueueError {
    /// A short label such as `SQS SendMessageBatch`.
    pub operation: &'static str,
    #[source]
    pub source: BoxError,
}

impl QueueError {
    pub fn new(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self {
            operation,
            source: source.into(),
        }
    }
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

/// Why a store call failed, split by what the caller should do about it. The message is a short
/// label of the operation; the cause (an SDK error, say) is the source, so a logged chain says each
/// thing once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, a timeout, a 5xx: the same call may succeed later.
    #[error("{operation} is unavailable")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// The request itself is wrong (validation, too large), or the answer cannot be read: retrying
    /// it cannot help.
    #[error("{operation} was refused")]
    Rejected {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    pub fn unavailable(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            operation,
            source: source.into(),
        }
    }

    pub fn rejected(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Rejected {
            operation,
            source: source.into(),
        }
    }

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

/// Where key records are found, for the verifier (`auth::Verifier`).
pub trait KeyStore: Send + Sync {
    fn find(
        &self,
        id: &KeyId,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;
}

impl<K: KeyStore> KeyStore for std::sync::Arc<K> {
    fn find(
        &self,
        id: &KeyId,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        (**self).find(id)
    }
}
