//! The log store port: what the seal function reads and writes, and what proofs and `verify` read.
//! Every write is either conditional (the head, the shard checkpoint, a tile) or of deterministic
//! content (a lookup), so that a retried or redelivered batch writes the same thing again.

use std::future::Future;

use audit_tlog::{Hash, TileWrite};

use super::head::Head;
use super::leaf::LeafEntry;
use crate::counters::{SequenceNumber, ShardId};
use crate::event::Tenant;
use crate::ports::StoreError;

/// What became of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    Done,
    /// Nothing was written: the item was no longer as expected.
    Moved,
}

/// What became of a tile write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileOutcome {
    /// The tile now holds the write's hashes (it may have held them already).
    Written,
    /// A write that stores the whole tile (one that fills it, or compacts it) found fewer hashes
    /// than it starts at: an earlier claim (another shard's) is not written yet. Retry later. A
    /// segment write never waits: it is a blind put of its own positions.
    Gap,
}

/// A signed checkpoint as stored: the C2SP body and the DER ECDSA signature over its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    pub body: String,
    pub signature: Vec<u8>,
}

/// Signs checkpoint bodies (KMS: ECDSA P-256 with SHA-256 over the raw message).
pub trait Signer: Send + Sync {
    /// The DER signature of `message`.
    fn sign(&self, message: &[u8]) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
    /// The DER SubjectPublicKeyInfo that verifies it.
    fn public_key(&self) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
}

/// Where signed checkpoints are kept, and which tenants have a log.
pub trait CheckpointStore: Send + Sync {
    /// Every tenant that has a head.
    fn tenants(&self) -> impl Future<Output = Result<Vec<Tenant>, StoreError>> + Send;
    /// The checkpoint of the largest size, if any.
    fn latest_signed(
        &self,
        tenant: &Tenant,
    ) -> impl Future<Output = Result<Option<Signed>, StoreError>> + Send;
    /// The checkpoint issued at `size`.
    fn signed(
        &self,
        tenant: &Tenant,
        size: u64,
    ) -> impl Future<Output = Result<Option<Signed>, StoreError>> + Send;
    /// Keeps a checkpoint (the latest at its size replaces an earlier one of that size).
    fn put_signed(
        &self,
        tenant: &Tenant,
        size: u64,
        signed: &Signed,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The copies of the checkpoints that the table's writers cannot change: S3 under Object Lock,
/// `checkpoints/<tenant>/<size>`.
pub trait Archive: Send + Sync {
    fn put(
        &self,
        tenant: &Tenant,
        size: u64,
        signed: &Signed,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The copy at `size` (its latest version).
    fn get(
        &self,
        tenant: &Tenant,
        size: u64,
    ) -> impl Future<Output = Result<Option<Signed>, StoreError>> + Send;
    /// The sizes that have a copy.
    fn sizes(&self, tenant: &Tenant) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;
}

/// The object an archived checkpoint is kept as.
pub fn archive_key(tenant: &Tenant, size: u64) -> String {
    format!("checkpoints/{}/{size}", tenant.as_str())
}

pub trait LogStore: Send + Sync {
    /// The seal's checkpoint of a stream shard (strongly consistent).
    fn checkpoint(
        &self,
        shard: &ShardId,
    ) -> impl Future<Output = Result<Option<SequenceNumber>, StoreError>> + Send;

    /// Moves the shard's checkpoint to `next` if it is still `expected`.
    fn set_checkpoint(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        next: &SequenceNumber,
    ) -> impl Future<Output = Result<Swap, StoreError>> + Send;

    /// The tenant's head (strongly consistent); `None` before its first leaf.
    fn head(
        &self,
        tenant: &Tenant,
    ) -> impl Future<Output = Result<Option<Head>, StoreError>> + Send;

    /// Writes `head` if the stored head's version is still `expected` (0: none stored).
    fn put_head(
        &self,
        tenant: &Tenant,
        expected: u64,
        head: &Head,
    ) -> impl Future<Output = Result<Swap, StoreError>> + Send;

    /// Writes the id→leaf lookups (plain puts of deterministic content).
    fn put_leaves(
        &self,
        tenant: &Tenant,
        entries: &[LeafEntry],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes one tile's new hashes at their positions (a segment, or the whole tile so far; see
    /// `items`), keeping the ones before them.
    fn write_tile(
        &self,
        tenant: &Tenant,
        write: &TileWrite,
    ) -> impl Future<Output = Result<TileOutcome, StoreError>> + Send;

    /// The hashes a tile holds, from position 0; empty when it holds none.
    fn tile(
        &self,
        tenant: &Tenant,
        level: u8,
        index: u64,
    ) -> impl Future<Output = Result<Vec<Hash>, StoreError>> + Send;

    /// Every leaf of one id, oldest first.
    fn leaves_of(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> impl Future<Output = Result<Vec<LeafEntry>, StoreError>> + Send;
}

impl<S: LogStore> LogStore for &S {
    fn checkpoint(
        &self,
        shard: &ShardId,
    ) -> impl Future<Output = Result<Option<SequenceNumber>, StoreError>> + Send {
        (**self).checkpoint(shard)
    }
    fn set_checkpoint(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        next: &SequenceNumber,
    ) -> impl Future<Output = Result<Swap, StoreError>> + Send {
        (**self).set_checkpoint(shard, expected, next)
    }
    fn head(
        &self,
        tenant: &Tenant,
    ) -> impl Future<Output = Result<Option<Head>, StoreError>> + Send {
        (**self).head(tenant)
    }
    fn put_head(
        &self,
        tenant: &Tenant,
        expected: u64,
        head: &Head,
    ) -> impl Future<Output = Result<Swap, StoreError>> + Send {
        (**self).put_head(tenant, expected, head)
    }
    fn put_leaves(
        &self,
        tenant: &Tenant,
        entries: &[LeafEntry],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put_leaves(tenant, entries)
    }
    fn write_tile(
        &self,
        tenant: &Tenant,
        write: &TileWrite,
    ) -> impl Future<Output = Result<TileOutcome, StoreError>> + Send {
        (**self).write_tile(tenant, write)
    }
    fn tile(
        &self,
        tenant: &Tenant,
        level: u8,
        index: u64,
    ) -> impl Future<Output = Result<Vec<Hash>, StoreError>> + Send {
        (**self).tile(tenant, level, index)
    }
    fn leaves_of(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> impl Future<Output = Result<Vec<LeafEntry>, StoreError>> + Send {
        (**self).leaves_of(tenant, id)
    }
}
