//! Metering of the read ports. Each answer carries what it cost the store ([`Measured`]); the
//! [`Metered`] wrapper adds those up for one request, so that the read function can log and emit
//! its cost without any adapter or fake keeping a meter of its own.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::counters::range::BucketRun;
use crate::event::{Event, Tenant};
use crate::id::EventId;
use crate::ports::read::{
    CounterReader, EventLookup, IndexQuery, IndexReader, KeyPage, NameCatalogue,
};
use crate::ports::StoreError;

/// A port's answer and what it cost: requests made and items read (index entries examined, base
/// items fetched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured<T> {
    pub value: T,
    pub requests: u64,
    pub items_read: u64,
}

impl<T> Measured<T> {
    pub fn new(value: T, requests: u64, items_read: u64) -> Self {
        Self {
            value,
            requests,
            items_read,
        }
    }
}

/// What one request cost the store: requests made and items read, with the work behind
/// `total_records` apart (`count_*`: counter items read, plus the index entries of the partial
/// minutes at a range's ends, which are counted exactly).
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
    pub fn record<T>(&self, answer: &Measured<T>) {
        self.requests.fetch_add(answer.requests, Ordering::Relaxed);
        self.items_read
            .fetch_add(answer.items_read, Ordering::Relaxed);
    }

    pub fn record_count<T>(&self, answer: &Measured<T>) {
        self.count_requests
            .fetch_add(answer.requests, Ordering::Relaxed);
        self.count_items_read
            .fetch_add(answer.items_read, Ordering::Relaxed);
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

/// A reader that adds up what every answer through it cost. Made per request, so that concurrent
/// requests served by one process are metered apart.
#[derive(Debug)]
pub struct Metered<'a, R> {
    inner: &'a R,
    meter: CostMeter,
}

impl<'a, R> Metered<'a, R> {
    pub fn new(inner: &'a R) -> Self {
        Self {
            inner,
            meter: CostMeter::default(),
        }
    }

    /// What the answers so far cost.
    pub fn cost(&self) -> ReadCost {
        self.meter.snapshot()
    }

    fn record<T>(
        &self,
        answer: Result<Measured<T>, StoreError>,
    ) -> Result<Measured<T>, StoreError> {
        if let Ok(answer) = &answer {
            self.meter.record(answer);
        }
        answer
    }

    /// Records an answer that serves a count (`total_records`, stats) under `count_*`.
    fn record_count<T>(
        &self,
        answer: Result<Measured<T>, StoreError>,
    ) -> Result<Measured<T>, StoreError> {
        if let Ok(answer) = &answer {
            self.meter.record_count(answer);
        }
        answer
    }
}

impl<R: IndexReader> IndexReader for Metered<'_, R> {
    async fn query_keys(&self, query: &IndexQuery) -> Result<Measured<KeyPage>, StoreError> {
        self.record(self.inner.query_keys(query).await)
    }

    async fn count(&self, query: &IndexQuery) -> Result<Measured<u64>, StoreError> {
        self.record_count(self.inner.count(query).await)
    }
}

impl<R: CounterReader> CounterReader for Metered<'_, R> {
    async fn counter_total(&self, partition: &str) -> Result<Measured<i64>, StoreError> {
        self.record_count(self.inner.counter_total(partition).await)
    }

    async fn counter_run(
        &self,
        partition: &str,
        run: &BucketRun,
    ) -> Result<Measured<BTreeMap<i64, i64>>, StoreError> {
        self.record_count(self.inner.counter_run(partition, run).await)
    }
}

impl<R: NameCatalogue> NameCatalogue for Metered<'_, R> {
    async fn names(
        &self,
        tenant: &Tenant,
        prefix: &str,
    ) -> Result<Measured<Vec<String>>, StoreError> {
        self.record(self.inner.names(tenant, prefix).await)
    }
}

impl<R: EventLookup> EventLookup for Metered<'_, R> {
    async fn get_many(
        &self,
        tenant: &Tenant,
        ids: &[EventId],
    ) -> Result<Measured<Vec<Event>>, StoreError> {
        self.record(self.inner.get_many(tenant, ids).await)
    }

    async fn get(
        &self,
        tenant: &Tenant,
        id: &EventId,
    ) -> Result<Measured<Option<Event>>, StoreError> {
        self.record(self.inner.get(tenant, id).await)
    }
}
