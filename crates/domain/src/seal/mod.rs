//! The sealed log (issue 11): each tenant's events as leaves of an append-only Merkle tree, kept
//! from the table's stream by the seal function, exactly once.
//!
//! - [`leaf`]: what a stream record adds to a tenant's log (an event version, or a removal), and
//!   who wrote it ([`WriterKey`]: the drain's HMAC over the leaf's canonical bytes).
//! - [`head`]: the per-tenant head item, the tree's right edge plus one *claim* per stream shard.
//!   A claim is how an append survives a crash and two shards racing: the head is moved with one
//!   conditional write that also records which records took which leaf indexes, and everything
//!   written after it (the id→leaf lookups and the tiles) is determined by the claim alone.
//! - [`port`]: the store the seal function writes through; [`cost`]: what its writes cost.
//!
//! The hashing itself (leaves, tiles, proofs, checkpoints) is `audit_tlog`.

pub mod audit;
pub mod head;
pub mod items;
pub mod leaf;
#[cfg(any(test, feature = "testing"))]
mod memory;
pub mod port;

pub use head::{split, Claim, Head, Placed, Split};
pub use items::{Attr, Item, ReadMeter, Splice, Tiles, WriteMeter};
pub use leaf::{
    canonical_log, event_hash, event_key, leaf_of, log_value, ChangeName, Leaf, LeafEntry,
    LeafKind, SealChange, Writer, WriterKey, DEV_WRITER_KEY,
};
#[cfg(any(test, feature = "testing"))]
pub use memory::{DigestSigner, MemoryArchive, MemoryLog};
pub use port::{
    archive_key, Archive, CheckpointStore, LogStore, Signed, Signer, Swap, TileOutcome,
};
