//! The pure core of the tamper-evident log (issue 11): leaves, the Merkle tree, its tiles, appends,
//! proofs and checkpoint bodies. No I/O and no AWS types: the seal function, the API and
//! `audit-log verify` read and write storage through adapters, and compute everything here.
//!
//! # Shapes
//!
//! - **Leaves** ([`event_leaf`], [`removal_leaf`]). Each version of an event is a leaf, `SHA-256(0x00 || JCS(log))`, where
//!   `log` is the object `GET /api/logs/{id}` answers; a removal is the leaf of
//!   `{"id": ..., "removed": "expired" | "deleted"}`. Interior nodes are `SHA-256(0x01 || l || r)`
//!   ([`leaf_hash`], [`node_hash`]): the tree of RFC 9162 §2.1.
//! - **Nodes** ([`NodeId`]). A perfect subtree of `2^level` leaves, by (level, index). Every root and
//!   proof element is the MTH of a range that splits into a few such nodes, so a store only ever
//!   answers "the hash of node (level, index)" ([`HashStore`]).
//! - **Tiles** ([`TileId`], [`TileSet`]). As C2SP tlog-tiles: a tile of level `L` holds up to 256
//!   consecutive node hashes of tree level `8L` (leaf hashes at level 0). Intermediate levels are
//!   rehashed from the tile below them, so a node is in exactly one tile, and a partial tile is
//!   named by its width at a given tree size.
//! - **Plans** ([`Plan`]). For a root, an inclusion proof or a consistency proof: the nodes it needs
//!   and the tiles they are in, so that an adapter fetches exactly those (O(log n) tiles), then
//!   assembles the proof from them.
//! - **Appends** ([`Frontier`]). The right edge of the tree, one hash per set bit of its size. With
//!   it, appending `k` leaves costs O(k + log n) hashes and yields the new root, the new frontier and
//!   the tile hashes to write ([`TileWrite`]): positions within a tile, never a rebuilt tile.
//! - **Checkpoints** ([`Checkpoint`]). The C2SP tlog-checkpoint body the log signs: origin
//!   `<prefix>/<tenant>`, size, root in base64, and the time, each line ending in `\n`.
//!
//! Verification ([`verify_inclusion`], [`verify_consistency`]) needs only the proof, sizes and roots,
//! as a client checking the service has.

mod append;
mod checkpoint;
mod hash;
mod leaf;
mod proof;
mod tile;
mod tree;

pub use append::{AppendError, Appended, Frontier, TileWrite};
pub use checkpoint::{Checkpoint, CheckpointError, Origin};
pub use hash::{leaf_hash, node_hash, Hash, HashError};
pub use leaf::{
    canonical_json, event_leaf, inexact_integer, removal_bytes, removal_leaf, LeafError, Removal,
    MAX_SAFE_INTEGER,
};
pub use proof::{
    consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion, Plan,
    ProofError, VerifyError,
};
pub use tile::{HashStore, TileError, TileId, TileSet, TILE_HEIGHT, TILE_WIDTH};
pub use tree::{mth, NodeId, TreeSize};
