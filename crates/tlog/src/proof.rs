//! Roots, inclusion proofs (RFC 9162 §2.1.3) and consistency proofs (§2.1.4): which stored hashes
//! each is made of, how they are assembled from a [`HashStore`], and how a client verifies them.
//!
//! Generation follows the RFC's recursive definitions (`PATH` and `SUBPROOF`) over ranges of leaves,
//! so that each proof element is `MTH(D[lo:hi])` of a range the RFC names. Each range is then the
//! fold of its perfect subtrees ([`crate::tree`]). Verification is the RFC's iterative algorithm,
//! which needs nothing but the proof, the sizes and the roots.

use crate::hash::{node_hash, Hash};
use crate::tile::{HashStore, TileId};
use crate::tree::{fold, frontier_nodes, range_nodes, split, NodeId, TreeSize};

/// The stored hashes that a root or proof is made of, and in which tiles they are. An adapter
/// fetches [`Plan::tiles`], then [`Plan::hashes`] assembles the proof from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    size: TreeSize,
    /// One entry per output hash: the perfect subtrees that fold into it.
    parts: Vec<Vec<NodeId>>,
}

/// Why a proof cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: TreeSize },
    #[error("a tree of {from} leaves is not a prefix of one of {to}")]
    SizesOutOfOrder { from: TreeSize, to: TreeSize },
    /// The store lacks a hash it should hold at this size: a tile is missing or short.
    #[error("no stored hash for {0:?}")]
    MissingNode(NodeId),
}

/// Why a proof does not verify. Any of them means: do not trust the claim.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: TreeSize },
    #[error("a tree of {from} leaves is not a prefix of one of {to}")]
    SizesOutOfOrder { from: TreeSize, to: TreeSize },
    #[error("the proof has the wrong number of hashes for its sizes")]
    WrongLength,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

impl Plan {
    /// The root of a tree of `size` leaves: one part, the right edge (none for the empty tree).
    pub fn root(size: TreeSize) -> Self {
        let edge = frontier_nodes(size);
        let parts = if edge.is_empty() { vec![] } else { vec![edge] };
        Self { size, parts }
    }

    /// `PATH(index, D[0:size])`, bottom up: the siblings from the leaf to the root.
    pub fn inclusion(index: u64, size: TreeSize) -> Result<Self, ProofError> {
        if index >= size.get() {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut ranges = Vec::new();
        path(index, 0, size.get(), &mut ranges);
        Ok(Self::of_ranges(size, &ranges))
    }

    /// `PROOF(from, D[0:to])` for `0 < from < to`; empty when `from` is 0 or equals `to`, as
    /// [`verify_consistency`] expects.
    pub fn consistency(from: TreeSize, to: TreeSize) -> Result<Self, ProofError> {
        if from > to {
            return Err(ProofError::SizesOutOfOrder { from, to });
        }
        let mut ranges = Vec::new();
        if from.get() > 0 && from < to {
            subproof(from.get(), 0, to.get(), true, &mut ranges);
        }
        Ok(Self::of_ranges(to, &ranges))
    }

    fn of_ranges(size: TreeSize, ranges: &[(u64, u64)]) -> Self {
        let parts = ranges.iter().map(|&(lo, hi)| range_nodes(lo, hi)).collect();
        Self { size, parts }
    }

    /// The tree size whose stored hashes it reads.
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// Every node it reads, in proof order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.parts.iter().flatten().copied()
    }

    /// The tiles those nodes are in, at this tree size, sorted and each once: what to fetch.
    pub fn tiles(&self) -> Vec<TileId> {
        let mut tiles: Vec<TileId> = self
            .nodes()
            .map(|node| TileId::for_node(node, self.size).expect("plans name complete nodes"))
            .collect();
        tiles.sort_unstable();
        tiles.dedup();
        tiles
    }

    /// The proof's hashes (or the root, for [`Plan::root`]), read from `store`.
    pub fn hashes(&self, store: &(impl HashStore + ?Sized)) -> Result<Vec<Hash>, ProofError> {
        self.parts
            .iter()
            .map(|part| {
                let hashes = part
                    .iter()
                    .map(|&node| store.node(node).ok_or(ProofError::MissingNode(node)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(fold(&hashes).expect("a part names at least one node"))
            })
            .collect()
    }
}

/// The root of a tree of `size` leaves, from stored hashes.
pub fn root(size: TreeSize, store: &(impl HashStore + ?Sized)) -> Result<Hash, ProofError> {
    let hashes = Plan::root(size).hashes(store)?;
    Ok(hashes.first().copied().unwrap_or_else(Hash::empty_tree))
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves, from stored hashes.
pub fn inclusion_proof(
    index: u64,
    size: TreeSize,
    store: &(impl HashStore + ?Sized),
) -> Result<Vec<Hash>, ProofError> {
    Plan::inclusion(index, size)?.hashes(store)
}

/// The consistency proof from the tree of `from` leaves to the tree of `to`, from stored hashes.
pub fn consistency_proof(
    from: TreeSize,
    to: TreeSize,
    store: &(impl HashStore + ?Sized),
) -> Result<Vec<Hash>, ProofError> {
    Plan::consistency(from, to)?.hashes(store)
}

/// RFC 9162 §2.1.3.1, over `D[lo:hi]`, pushing the ranges whose MTH are the proof, bottom up.
fn path(index: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
    if hi - lo == 1 {
        return;
    }
    let mid = lo + split(hi - lo);
    if index < mid {
        path(index, lo, mid, out);
        out.push((mid, hi));
    } else {
        path(index, mid, hi, out);
        out.push((lo, mid));
    }
}

/// RFC 9162 §2.1.4.1's `SUBPROOF(m, D[lo:hi], complete)`.
fn subproof(m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    if m == hi - lo {
        if !complete {
            out.push((lo, hi));
        }
        return;
    }
    let k = split(hi - lo);
    if m <= k {
        subproof(m, lo, lo + k, complete, out);
        out.push((lo + k, hi));
    } else {
        subproof(m - k, lo + k, hi, false, out);
        out.push((lo, lo + k));
    }
}

/// RFC 9162 §2.1.3.2: whether `proof` shows that `leaf` is leaf `index` of the tree of `size`
/// leaves whose root is `root`.
///
/// The path alone does not pin `size` to one value (leaf 0 has the same path shape in trees of 5
/// to 8 leaves); the root does. So take `size` and `root` together from one signed checkpoint.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: TreeSize,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= size.get() {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size.get() - 1);
    let mut hash = *leaf;
    for sibling in proof {
        if snode == 0 {
            return Err(VerifyError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            hash = node_hash(sibling, &hash);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(VerifyError::WrongLength);
    }
    if hash != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: whether `proof` shows that the tree of `from` leaves with root `from_root`
/// is a prefix of the tree of `to` leaves with root `to_root`.
///
/// Equal sizes need an empty proof and equal roots. Size 0 needs an empty proof and the empty
/// tree's root: a checkpoint of an empty log that claimed another root would be a lie.
pub fn verify_consistency(
    from: TreeSize,
    to: TreeSize,
    proof: &[Hash],
    from_root: &Hash,
    to_root: &Hash,
) -> Result<(), VerifyError> {
    let (first, second) = (from.get(), to.get());
    if first > second {
        return Err(VerifyError::SizesOutOfOrder { from, to });
    }
    if first == 0 || first == second {
        if !proof.is_empty() {
            return Err(VerifyError::WrongLength);
        }
        let from_ok = first != 0 || *from_root == Hash::empty_tree();
        let same = first != second || from_root == to_root;
        return if from_ok && same {
            Ok(())
        } else {
            Err(VerifyError::RootMismatch)
        };
    }
    let Some((head, rest)) = proof.split_first() else {
        return Err(VerifyError::WrongLength);
    };
    // When `first` is a power of two its root is the proof's implied first element.
    let (start, rest) = if first.is_power_of_two() {
        (from_root, proof)
    } else {
        (head, rest)
    };
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut first_hash, mut second_hash) = (*start, *start);
    for hash in rest {
        if snode == 0 {
            return Err(VerifyError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            first_hash = node_hash(hash, &first_hash);
            second_hash = node_hash(hash, &second_hash);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            second_hash = node_hash(&second_hash, hash);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(VerifyError::WrongLength);
    }
    if first_hash != *from_root || second_hash != *to_root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}
