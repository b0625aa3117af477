//! An in-memory counter store with the adapter's semantics (the checkpoint condition, at most 99
//! counters a transaction), and switches for the faults that matter to exactly-once counting: an
//! apply that fails without writing, and one that writes but whose answer is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::layout::{CounterKey, SequenceNumber, ShardId};
use super::plan::{Chunk, MAX_COUNTERS};
use super::port::{Applied, CounterStore};
use crate::ports::StoreError;

#[derive(Debug, Default)]
struct State {
    counters: BTreeMap<(String, String), i64>,
    checkpoints: BTreeMap<String, SequenceNumber>,
    transactions: usize,
}

#[derive(Debug, Default)]
pub struct MemoryCounters {
    state: Mutex<State>,
    applies: AtomicUsize,
    /// 1-based numbers of `apply` calls that fail as unavailable and write nothing.
    fail: Mutex<BTreeSet<usize>>,
    /// 1-based numbers of `apply` calls that write, then fail as if the answer timed out.
    lose: Mutex<BTreeSet<usize>>,
}

fn unavailable(message: &str) -> StoreError {
    StoreError::unavailable("memory TransactWriteItems", message.to_owned())
}

impl MemoryCounters {
    /// The `n`th call to `apply` (counting from 1, over the store's life) fails and writes nothing.
    pub fn fail_apply(&self, n: usize) {
        self.fail.lock().unwrap().insert(n);
    }

    /// The `n`th call to `apply` writes, then reports a failure (a timeout after the commit).
    pub fn lose_reply_of_apply(&self, n: usize) {
        self.lose.lock().unwrap().insert(n);
    }

    /// Calls to `apply` so far, successful or not.
    pub fn apply_calls(&self) -> usize {
        self.applies.load(Ordering::SeqCst)
    }

    /// Transactions that wrote.
    pub fn transactions(&self) -> usize {
        self.state.lock().unwrap().transactions
    }

    pub fn count(&self, key: &CounterKey) -> i64 {
        self.count_at(&key.pk(), &key.sk())
    }

    pub fn count_at(&self, pk: &str, sk: &str) -> i64 {
        let state = self.state.lock().unwrap();
        state
            .counters
            .get(&(pk.to_owned(), sk.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Every counter that is not zero, by `(pk, sk)`. (DynamoDB keeps an item that `ADD`s back to
    /// 0; for comparing outcomes that is the same as no item.)
    pub fn counters(&self) -> BTreeMap<(String, String), i64> {
        let state = self.state.lock().unwrap();
        state
            .counters
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }

    pub fn checkpoint_of(&self, shard: &ShardId) -> Option<SequenceNumber> {
        self.state
            .lock()
            .unwrap()
            .checkpoints
            .get(shard.as_str())
            .cloned()
    }
}

impl CounterStore for MemoryCounters {
    async fn checkpoint(&self, shard: &ShardId) -> Result<Option<SequenceNumber>, StoreError> {
        Ok(self.checkpoint_of(shard))
    }

    async fn apply(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        chunk: &Chunk,
    ) -> Result<Applied, StoreError> {
        let call = self.applies.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail.lock().unwrap().contains(&call) {
            return Err(unavailable("injected failure before the write"));
        }
        if chunk.counters.len() > MAX_COUNTERS {
            return Err(StoreError::rejected(
                "memory TransactWriteItems",
                format!("{} counters in one transaction", chunk.counters.len()),
            ));
        }
        {
            let mut state = self.state.lock().unwrap();
            if state.checkpoints.get(shard.as_str()) != expected {
                return Ok(Applied::CheckpointMoved);
            }
            for (key, delta) in chunk.counters.iter() {
                *state.counters.entry((key.pk(), key.sk())).or_insert(0) += delta;
            }
            state
                .checkpoints
                .insert(shard.as_str().to_owned(), chunk.last.clone());
            state.transactions += 1;
        }
        if self.lose.lock().unwrap().contains(&call) {
            return Err(unavailable("injected timeout after the write"));
        }
        Ok(Applied::Applied)
    }
}
