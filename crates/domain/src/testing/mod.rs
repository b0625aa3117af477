//! The fakes that ship with the ports, behind the `testing` feature (and in this crate's own tests):
//! one in-memory implementation per port, plus the failing ones that tests of error paths need.
//! Every crate's tests use these rather than a fake of their own.

mod memory_reader;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::auth::{KeyId, KeyRecord};
use crate::counters::range::BucketRun;
use crate::event::{Event, Tenant};
use crate::id::EventId;
use crate::ports::{
    CounterReader, EventLookup, EventQueue, EventStore, IndexQuery, IndexReader, KeyPage, KeyStore,
    Measured, NameCatalogue, QueueError, Record, StoreError,
};

pub use memory_reader::MemoryReader;

/// Keys in memory, for tests: counts lookups so that caching can be checked.
#[derive(Default)]
pub struct MemoryKeys {
    records: Mutex<HashMap<KeyId, KeyRecord>>,
    lookups: std::sync::atomic::AtomicUsize,
}

impl MemoryKeys {
    pub fn insert(&self, record: KeyRecord) {
        let mut records = self.records.lock().unwrap();
        records.insert(record.info.key_id.clone(), record);
    }

    pub fn revoke(&self, id: &KeyId, at: DateTime<Utc>) {
        if let Some(r) = self.records.lock().unwrap().get_mut(id) {
            r.info.revoked_at = Some(at);
        }
    }

    pub fn lookups(&self) -> usize {
        self.lookups.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl KeyStore for MemoryKeys {
    async fn find(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(self.records.lock().unwrap().get(id).cloned())
    }
}

/// A queue that keeps what it is given, one entry per `enqueue` call.
#[derive(Default)]
pub struct RecordingQueue {
    calls: Mutex<Vec<Vec<Event>>>,
}

impl RecordingQueue {
    /// The events of every call, in order.
    pub fn calls(&self) -> Vec<Vec<Event>> {
        self.calls.lock().unwrap().clone()
    }

    /// Every event enqueued, flattened.
    pub fn events(&self) -> Vec<Event> {
        self.calls().into_iter().flatten().collect()
    }
}

impl EventQueue for RecordingQueue {
    async fn enqueue(&self, events: &[Event]) -> Result<(), QueueError> {
        self.calls.lock().unwrap().push(events.to_vec());
        Ok(())
    }
}

/// A queue whose every call fails, as SQS does when it is unreachable. Its message names a secret
/// so that tests can check it never reaches a client.
#[derive(Default)]
pub struct FailingQueue {
    pub calls: AtomicUsize,
}

impl EventQueue for FailingQueue {
    async fn enqueue(&self, _: &[Event]) -> Result<(), QueueError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(QueueError::new(
            "SQS SendMessage",
            "queue arn:aws:sqs:secret is unreachable",
        ))
    }
}

/// A reader whose every call fails, as DynamoDB does when throttled. Its message names a secret so
/// that tests can check it never reaches a client.
pub struct FailingReader;

fn throttled() -> StoreError {
    StoreError::unavailable(
        "DynamoDB Query",
        "table arn:aws:dynamodb:secret is throttled",
    )
}

impl IndexReader for FailingReader {
    async fn query_keys(&self, _: &IndexQuery) -> Result<Measured<KeyPage>, StoreError> {
        Err(throttled())
    }
    async fn count(&self, _: &IndexQuery) -> Result<Measured<u64>, StoreError> {
        Err(throttled())
    }
}

impl NameCatalogue for FailingReader {
    async fn names(&self, _: &Tenant, _: &str) -> Result<Measured<Vec<String>>, StoreError> {
        Err(throttled())
    }
}

impl CounterReader for FailingReader {
    async fn counter_total(&self, _: &str) -> Result<Measured<i64>, StoreError> {
        Err(throttled())
    }
    async fn counter_run(
        &self,
        _: &str,
        _: &BucketRun,
    ) -> Result<Measured<std::collections::BTreeMap<i64, i64>>, StoreError> {
        Err(throttled())
    }
}

impl EventLookup for FailingReader {
    async fn get_many(
        &self,
        _: &Tenant,
        _: &[EventId],
    ) -> Result<Measured<Vec<Event>>, StoreError> {
        Err(throttled())
    }
    async fn get(&self, _: &Tenant, _: &EventId) -> Result<Measured<Option<Event>>, StoreError> {
        Err(throttled())
    }
}

/// Keeps items by key; `refuse` names a key whose every write is rejected, `leave` how many
/// calls leave their last item unprocessed, `throttle` how many calls fail as throttled.
#[derive(Default)]
pub struct MemoryStore {
    pub items: Mutex<HashMap<(String, String), Record>>,
    pub calls: AtomicUsize,
    pub refuse: Option<String>,
    pub leave: AtomicUsize,
    pub throttle: AtomicUsize,
    pub max_seen: AtomicUsize,
}

impl EventStore for MemoryStore {
    async fn write(&self, records: Vec<Record>) -> Result<Vec<Record>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.max_seen.fetch_max(records.len(), Ordering::SeqCst);
        let keys: HashSet<_> = records.iter().map(|r| r.key()).collect();
        assert_eq!(keys.len(), records.len(), "duplicate keys in one call");
        if self.throttle.load(Ordering::SeqCst) > 0 {
            self.throttle.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::unavailable(
                "memory BatchWriteItem",
                "throttled",
            ));
        }
        if let Some(bad) = &self.refuse {
            if records.iter().any(|r| r.key().0 == bad) {
                return Err(StoreError::rejected(
                    "memory BatchWriteItem",
                    "item too large",
                ));
            }
        }
        let mut records = records;
        let left = if self.leave.load(Ordering::SeqCst) > 0 && records.len() > 1 {
            self.leave.fetch_sub(1, Ordering::SeqCst);
            vec![records.pop().unwrap()]
        } else {
            Vec::new()
        };
        let mut items = self.items.lock().unwrap();
        for r in records {
            let (pk, sk) = r.key();
            items.insert((pk.to_owned(), sk.to_owned()), r);
        }
        Ok(left)
    }
}
