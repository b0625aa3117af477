//! The Merkle tree's coordinates: tree sizes, the perfect subtrees (nodes) that every root and
//! proof is made of, and the Merkle Tree Hash of RFC 9162 §2.1.1 as the reference definition.
//!
//! Every range that RFC 9162's recursive definitions hash, `MTH(D[lo:hi])`, starts at a multiple
//! of the power of two at or above its length. Such a range splits, by the binary digits of its
//! length, into perfect subtrees that are stored hashes; folding them from the right gives its MTH.
//! That is how roots and proofs are computed from tiles, and why a node is all a store must answer.

use std::fmt;

use crate::hash::{node_hash, Hash};

/// The number of leaves in a tree (and the size a checkpoint commits to).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeSize(u64);

impl TreeSize {
    pub const EMPTY: Self = Self(0);

    pub const fn new(leaves: u64) -> Self {
        Self(leaves)
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<u64> for TreeSize {
    fn from(leaves: u64) -> Self {
        Self(leaves)
    }
}

impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A perfect subtree: the `2^level` leaves from `index * 2^level`. Level 0 nodes are the leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    level: u8,
    index: u64,
}

impl NodeId {
    /// `None` unless the subtree fits in a tree of at most `u64::MAX` leaves.
    pub fn new(level: u8, index: u64) -> Option<Self> {
        (level < 64 && index.checked_shl(u32::from(level))? >> level == index)
            .then_some(Self { level, index })
    }

    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// Callers guarantee `new`'s condition.
    pub(crate) const fn at(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    pub const fn level(self) -> u8 {
        self.level
    }

    pub const fn index(self) -> u64 {
        self.index
    }

    /// The first leaf it covers.
    pub const fn start(self) -> u64 {
        self.index << self.level
    }

    /// Whether all of its leaves are in a tree of `size` leaves, so that its hash can be stored.
    pub fn is_complete_in(self, size: TreeSize) -> bool {
        // `end` is at most 2^64, which only the full 64-level tree reaches.
        let end = (u128::from(self.index) + 1) << self.level;
        end <= u128::from(size.0)
    }
}

/// The Merkle Tree Hash of RFC 9162 §2.1.1 over leaf hashes (not leaf bytes: hash each entry
/// with [`leaf_hash`](crate::leaf_hash) first). O(n): the reference that the tiled computations are
/// tested against, and a convenience for small trees.
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash::empty_tree(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n`, for `n >= 2`: where RFC 9162 splits a range.
pub(crate) fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up `[lo, hi)`, left to right. For the ranges RFC 9162 hashes
/// (see the module doc) they are its binary digits, largest first.
pub(crate) fn range_nodes(lo: u64, hi: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut at = lo;
    while at < hi {
        let fits = 63 - (hi - at).leading_zeros();
        let level = fits.min(at.trailing_zeros()) as u8;
        nodes.push(NodeId::at(level, at >> level));
        at += 1 << level;
    }
    nodes
}

/// The MTH of a range from its perfect subtrees, left to right: fold from the right, as RFC 9162's
/// right-heavy split does. `None` for no subtrees.
pub(crate) fn fold(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(
        rest.iter()
            .rev()
            .fold(*last, |acc, left| node_hash(left, &acc)),
    )
}

/// The right edge of a tree of `size` leaves: one perfect subtree per set bit, largest first.
/// Its hashes are all an append needs, and they fold into the root.
pub(crate) fn frontier_nodes(size: TreeSize) -> Vec<NodeId> {
    range_nodes(0, size.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (u64::MAX, 1 << 63),
        ] {
            assert_eq!(split(n), k, "n = {n}");
        }
    }

    #[test]
    fn range_nodes_are_the_binary_digits_of_the_size() {
        let ids = |v: &[(u8, u64)]| v.iter().map(|&(l, i)| NodeId::at(l, i)).collect::<Vec<_>>();
        assert_eq!(range_nodes(0, 0), vec![]);
        assert_eq!(range_nodes(0, 1), ids(&[(0, 0)]));
        assert_eq!(range_nodes(0, 7), ids(&[(2, 0), (1, 2), (0, 6)]));
        assert_eq!(range_nodes(0, 8), ids(&[(3, 0)]));
        assert_eq!(range_nodes(4, 7), ids(&[(1, 2), (0, 6)]));
        assert_eq!(range_nodes(256, 300), ids(&[(5, 8), (3, 36), (2, 74)]));
        assert_eq!(range_nodes(0, u64::MAX).len(), 64);
    }

    #[test]
    fn folding_the_frontier_gives_the_mth() {
        let all = leaves(300);
        for n in 0..=300u64 {
            let hashes: Vec<Hash> = frontier_nodes(TreeSize(n))
                .iter()
                .map(|node| {
                    let start = node.start() as usize;
                    mth(&all[start..start + (1 << node.level())])
                })
                .collect();
            let root = fold(&hashes).unwrap_or_else(Hash::empty_tree);
            assert_eq!(root, mth(&all[..n as usize]), "n = {n}");
        }
    }

    #[test]
    fn node_ids_must_fit_in_64_bits() {
        assert!(NodeId::new(63, 1).is_some());
        assert!(NodeId::new(63, 2).is_none());
        assert!(NodeId::new(64, 0).is_none());
        assert!(NodeId::new(0, u64::MAX).is_some());
        assert!(NodeId::new(1, u64::MAX).is_none());
    }

    #[test]
    fn completeness_counts_every_leaf() {
        assert!(NodeId::at(2, 1).is_complete_in(TreeSize(8)));
        assert!(!NodeId::at(2, 1).is_complete_in(TreeSize(7)));
        assert!(!NodeId::at(63, 1).is_complete_in(TreeSize(u64::MAX)));
        assert!(!NodeId::leaf(u64::MAX).is_complete_in(TreeSize(u64::MAX)));
        assert!(NodeId::at(63, 0).is_complete_in(TreeSize(u64::MAX)));
    }
}
