//! An `EventStore` that, at a set rate, writes only the first part of a batch and hands the rest
//! back as unprocessed, as DynamoDB's `UnprocessedItems` does when a partition is hot.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use audit_domain::ports::{EventStore, Record, StoreError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Default)]
pub struct UnprocessedStats {
    pub calls: AtomicUsize,
    pub partial_calls: AtomicUsize,
    pub records_handed_back: AtomicUsize,
}

pub struct Unprocessing<S> {
    inner: S,
    rate: f64,
    rng: Mutex<StdRng>,
    pub stats: Arc<UnprocessedStats>,
}

impl<S> Unprocessing<S> {
    pub fn new(inner: S, rate: f64, seed: u64) -> Self {
        Self {
            inner,
            rate,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            stats: Arc::new(UnprocessedStats::default()),
        }
    }
}

impl<S: EventStore> EventStore for Unprocessing<S> {
    async fn write(&self, mut records: Vec<Record>) -> Result<Vec<Record>, StoreError> {
        self.stats.calls.fetch_add(1, Ordering::SeqCst);
        // How many records to actually write this time; all of them on most calls.
        let keep = {
            let mut rng = self.rng.lock().unwrap();
            if rng.gen_bool(self.rate) {
                rng.gen_range(0..records.len().max(1))
            } else {
                records.len()
            }
        };
        let left = records.split_off(keep.min(records.len()));
        if !left.is_empty() {
            self.stats.partial_calls.fetch_add(1, Ordering::SeqCst);
            self.stats
                .records_handed_back
                .fetch_add(left.len(), Ordering::SeqCst);
        }
        let unprocessed = if records.is_empty() {
            Vec::new()
        } else {
            self.inner.write(records).await?
        };
        Ok(unprocessed.into_iter().chain(left).collect())
    }
}
