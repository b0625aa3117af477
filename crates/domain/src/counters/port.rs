//! The counter store port: read a shard's checkpoint, and apply one chunk together with moving
//! that checkpoint, all or nothing. The condition on the checkpoint is what makes a redelivered,
//! retried or bisected batch apply nothing twice, so an adapter must make the two one atomic write.

use std::future::Future;

use super::layout::{SequenceNumber, ShardId};
use super::plan::Chunk;
use crate::ports::StoreError;

/// What became of an `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The counters moved and the checkpoint is now the chunk's last record.
    Applied,
    /// Nothing was written: the checkpoint was no longer `expected` (another invocation, or an
    /// earlier attempt of this one whose answer was lost, got there first).
    CheckpointMoved,
}

/// Where the count function keeps counters and checkpoints.
pub trait CounterStore: Send + Sync {
    /// The shard's checkpoint as it is now (a strongly consistent read); `None` before the first.
    fn checkpoint(
        &self,
        shard: &ShardId,
    ) -> impl Future<Output = Result<Option<SequenceNumber>, StoreError>> + Send;

    /// Adds each of the chunk's changes to its counter and sets the shard's checkpoint to
    /// `chunk.last`, atomically, if and only if the checkpoint is still `expected` (`None`: there
    /// is none yet).
    fn apply(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        chunk: &Chunk,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send;
}

/// A borrowed store is a store, so that two handlers in a test can share one.
impl<S: CounterStore> CounterStore for &S {
    fn checkpoint(
        &self,
        shard: &ShardId,
    ) -> impl Future<Output = Result<Option<SequenceNumber>, StoreError>> + Send {
        (**self).checkpoint(shard)
    }

    fn apply(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        chunk: &Chunk,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send {
        (**self).apply(shard, expected, chunk)
    }
}
