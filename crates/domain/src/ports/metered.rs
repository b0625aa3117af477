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
/// minutes at a range's ends, which are counted exactly), and the latency's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCost {
    pub requests: u64,
    pub items_read: u64,
    pub count_requests: u64,
    pub count_items_read: u64,
    /// Sequential round trips: the longest chain of store requests each of which began after the
    /// one before it had answered. Requests made side by side count once, and a port call that
    /// paginates counts each of its pages. This, not `requests`, is what the answer's latency
    /// follows.
    pub round_trips: u64,
}

/// Atomic counters behind `ReadCost`, shared by the concurrent calls of one request.
#[derive(Debug, Default)]
pub struct CostMeter {
    requests: AtomicU64,
    items_read: AtomicU64,
    count_requests: AtomicU64,
    count_items_read: AtomicU64,
    /// The deepest chain of requests answered so far (see [`ReadCost::round_trips`]).
    answered_depth: AtomicU64,
}

impl CostMeter {
    /// Called as a port call begins: the depth it starts from, which is that of every request
    /// answered before it (a call can depend on nothing that has not answered yet).
    pub fn begin(&self) -> u64 {
        self.answered_depth.load(Ordering::Relaxed)
    }

    /// Called as a port call answers, with the depth it began at: its own pages follow one
    /// another, so the chain grows by each of them.
    pub fn end<T>(&self, began: u64, answer: &Measured<T>) {
        self.answered_depth
            .fetch_max(began + answer.requests, Ordering::Relaxed);
    }

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
            round_trips: self.answered_depth.load(Ordering::Relaxed),
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

    async fn record<T>(
        &self,
        began: u64,
        answer: Result<Measured<T>, StoreError>,
    ) -> Result<Measured<T>, StoreError> {
        // Calls that start side by side must all have begun before one of them ends, or the later
        // would seem to follow it. A store that answers without waiting (one in memory) ends within
        // the poll that began it, so give the others that poll first.
        YieldOnce(false).await;
        if let Ok(answer) = &answer {
            self.meter.record(answer);
            self.meter.end(began, answer);
        }
        answer
    }

    /// Records an answer that serves a count (`total_records`, stats) under `count_*`.
    async fn record_count<T>(
        &self,
        began: u64,
        answer: Result<Measured<T>, StoreError>,
    ) -> Result<Measured<T>, StoreError> {
        YieldOnce(false).await;
        if let Ok(answer) = &answer {
            self.meter.record_count(answer);
            self.meter.end(began, answer);
        }
        answer
    }
}

/// Pending once, then ready: lets the other futures polled alongside run to their first wait.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl<R: IndexReader> IndexReader for Metered<'_, R> {
    async fn query_keys(&self, query: &IndexQuery) -> Result<Measured<KeyPage>, StoreError> {
        self.record(self.meter.begin(), self.inner.query_keys(query).await)
            .await
    }

    async fn count(&self, query: &IndexQuery) -> Result<Measured<u64>, StoreError> {
        self.record_count(self.meter.begin(), self.inner.count(query).await)
            .await
    }
}

impl<R: CounterReader> CounterReader for Metered<'_, R> {
    async fn counter_total(&self, partition: &str) -> Result<Measured<i64>, StoreError> {
        self.record_count(
            self.meter.begin(),
            self.inner.counter_total(partition).await,
        )
        .await
    }

    async fn counter_run(
        &self,
        partition: &str,
        run: &BucketRun,
    ) -> Result<Measured<BTreeMap<i64, i64>>, StoreError> {
        self.record_count(
            self.meter.begin(),
            self.inner.counter_run(partition, run).await,
        )
        .await
    }
}

impl<R: NameCatalogue> NameCatalogue for Metered<'_, R> {
    async fn names(
        &self,
        tenant: &Tenant,
        prefix: &str,
    ) -> Result<Measured<Vec<String>>, StoreError> {
        self.record(self.meter.begin(), self.inner.names(tenant, prefix).await)
            .await
    }
}

impl<R: EventLookup> EventLookup for Metered<'_, R> {
    async fn get_many(
        &self,
        tenant: &Tenant,
        ids: &[EventId],
    ) -> Result<Measured<Vec<Event>>, StoreError> {
        self.record(self.meter.begin(), self.inner.get_many(tenant, ids).await)
            .await
    }

    async fn get(
        &self,
        tenant: &Tenant,
        id: &EventId,
    ) -> Result<Measured<Option<Event>>, StoreError> {
        self.record(self.meter.begin(), self.inner.get(tenant, id).await)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::read::{Index, KeyRange};
    use crate::query::Direction;

    /// Answers every query with nothing, at once (as a store in memory does), after `pages`
    /// requests.
    struct Pages(u64);

    impl IndexReader for Pages {
        async fn query_keys(&self, _: &IndexQuery) -> Result<Measured<KeyPage>, StoreError> {
            Ok(Measured::new(KeyPage::default(), self.0, 0))
        }

        async fn count(&self, _: &IndexQuery) -> Result<Measured<u64>, StoreError> {
            Ok(Measured::new(0, self.0, 0))
        }
    }

    fn query() -> IndexQuery {
        IndexQuery {
            index: Index::ByTime,
            partition: "p".into(),
            range: KeyRange::default(),
            direction: Direction::Desc,
            limit: None,
            name_prefix: None,
        }
    }

    #[tokio::test]
    async fn round_trips_follow_the_chain_not_the_requests() {
        let store = Pages(2);
        let q = query();

        let side_by_side = Metered::new(&store);
        let (a, b) = futures::join!(side_by_side.query_keys(&q), side_by_side.count(&q));
        a.unwrap();
        b.unwrap();
        let cost = side_by_side.cost();
        assert_eq!((cost.requests, cost.count_requests), (2, 2));
        assert_eq!(
            cost.round_trips, 2,
            "two paginated calls at once: 2 pages deep"
        );

        let one_after_another = Metered::new(&store);
        one_after_another.query_keys(&q).await.unwrap();
        one_after_another.count(&q).await.unwrap();
        one_after_another.query_keys(&q).await.unwrap();
        assert_eq!(one_after_another.cost().round_trips, 6);

        // A call after two side by side starts from the deeper of them.
        let mixed = Metered::new(&Pages(1));
        let (a, b) = futures::join!(mixed.query_keys(&q), mixed.query_keys(&q));
        a.unwrap();
        b.unwrap();
        mixed.count(&q).await.unwrap();
        assert_eq!(mixed.cost().requests + mixed.cost().count_requests, 3);
        assert_eq!(mixed.cost().round_trips, 2);
    }
}
