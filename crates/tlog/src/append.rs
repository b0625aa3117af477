//! Appending leaves without rebuilding: the right edge of the tree (its frontier, or compact range)
//! is all an append reads, and the tile hashes it completes are all it writes.
//!
//! Each leaf is pushed onto the frontier and merged with equal-sized subtrees to its left, as a
//! binary counter carries. `k` leaves cost `k` leaf pushes and at most `k + log n` merges. A merge
//! that produces a node at a tile level (0, 8, 16, ...) yields one tile hash to write.

use std::collections::BTreeMap;

use crate::hash::{node_hash, Hash};
use crate::proof::ProofError;
use crate::tile::{HashStore, TileId, TILE_HEIGHT, TILE_WIDTH};
use crate::tree::{fold, frontier_nodes, TreeSize};

/// The hashes of the perfect subtrees along a tree's right edge, largest first: one per set bit of
/// its size. What a log's head keeps so that the next append reads nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: TreeSize,
    hashes: Vec<Hash>,
}

/// New hashes of one tile: positions `start..start + hashes.len()`. The tile's width at the new
/// size is `tile().width()`; hashes before `start` were written by earlier appends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileWrite {
    tile: TileId,
    start: u16,
    hashes: Vec<Hash>,
}

/// What an append produced: the tree's new frontier and root, and the tile hashes to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub frontier: Frontier,
    pub root: Hash,
    /// By tile level, then index.
    pub tiles: Vec<TileWrite>,
}

/// Why a frontier or an append cannot be.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AppendError {
    #[error("a tree of {size} leaves has {expected} frontier hashes, not {got}")]
    FrontierLength {
        size: TreeSize,
        expected: usize,
        got: usize,
    },
    #[error("a tree holds at most 2^64 - 1 leaves")]
    TreeFull,
}

impl TileWrite {
    pub fn tile(&self) -> TileId {
        self.tile
    }

    pub fn start(&self) -> u16 {
        self.start
    }

    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A frontier as a log's head stored it: `hashes` must be one per set bit of `size`.
    pub fn new(size: TreeSize, hashes: Vec<Hash>) -> Result<Self, AppendError> {
        let expected = size.get().count_ones() as usize;
        if hashes.len() != expected {
            return Err(AppendError::FrontierLength {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// Reads the frontier of a tree of `size` leaves from stored tiles, to resume a log whose head
    /// kept only its size. The tiles it needs are `Plan::root(size).tiles()`.
    pub fn from_store(
        size: TreeSize,
        store: &(impl HashStore + ?Sized),
    ) -> Result<Self, ProofError> {
        let hashes = frontier_nodes(size)
            .into_iter()
            .map(|node| store.node(node).ok_or(ProofError::MissingNode(node)))
            .collect::<Result<_, _>>()?;
        Ok(Self { size, hashes })
    }

    pub fn size(&self) -> TreeSize {
        self.size
    }

    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The tree's root: the frontier folded from the right.
    pub fn root(&self) -> Hash {
        fold(&self.hashes).unwrap_or_else(Hash::empty_tree)
    }

    /// Appends `leaves` (leaf hashes, in order) after this tree's last leaf.
    pub fn append(&self, leaves: &[Hash]) -> Result<Appended, AppendError> {
        let mut size = self.size.get();
        size.checked_add(leaves.len() as u64)
            .ok_or(AppendError::TreeFull)?;
        // (level, hash) of each frontier subtree, largest first; levels are the set bits of size.
        let mut stack: Vec<(u8, Hash)> = (0..64u8)
            .rev()
            .filter(|level| (size >> level) & 1 == 1)
            .zip(self.hashes.iter().copied())
            .collect();
        let mut writes = Writes::default();
        for leaf in leaves {
            let (mut level, mut index) = (0u8, size);
            writes.record(level, index, *leaf);
            stack.push((level, *leaf));
            while let [.., (left_level, left), (right_level, right)] = stack[..] {
                if left_level != right_level {
                    break;
                }
                stack.truncate(stack.len() - 2);
                let merged = node_hash(&left, &right);
                level += 1;
                index >>= 1;
                writes.record(level, index, merged);
                stack.push((level, merged));
            }
            size += 1;
        }
        let frontier = Self {
            size: TreeSize::new(size),
            hashes: stack.into_iter().map(|(_, hash)| hash).collect(),
        };
        Ok(Appended {
            root: frontier.root(),
            frontier,
            tiles: writes.finish(),
        })
    }
}

/// New tile hashes gathered during an append, by (tile level, tile index).
#[derive(Default)]
struct Writes {
    tiles: BTreeMap<(u8, u64), (u16, Vec<Hash>)>,
}

impl Writes {
    /// Keeps the hash of node (`level`, `index`) if that level is stored in tiles.
    fn record(&mut self, level: u8, index: u64, hash: Hash) {
        if !level.is_multiple_of(TILE_HEIGHT) {
            return;
        }
        let position = (index % u64::from(TILE_WIDTH)) as u16;
        let key = (level / TILE_HEIGHT, index >> TILE_HEIGHT);
        let (start, hashes) = self
            .tiles
            .entry(key)
            .or_insert_with(|| (position, Vec::new()));
        // Nodes of one level are completed left to right, so a tile's new hashes are contiguous.
        debug_assert_eq!(usize::from(*start) + hashes.len(), usize::from(position));
        hashes.push(hash);
    }

    fn finish(self) -> Vec<TileWrite> {
        self.tiles
            .into_iter()
            .map(|((level, index), (start, hashes))| {
                let width = start + hashes.len() as u16;
                TileWrite {
                    tile: TileId::new(level, index, width).expect("a tile within the tree"),
                    start,
                    hashes,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::tile::{TileError, TileSet};
    use crate::tree::mth;

    fn leaves(range: std::ops::Range<u64>) -> Vec<Hash> {
        range.map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn appending_nothing_changes_nothing() {
        let first = Frontier::empty().append(&leaves(0..5)).unwrap();
        let again = first.frontier.append(&[]).unwrap();
        assert_eq!(again.frontier, first.frontier);
        assert_eq!(again.root, first.root);
        assert!(again.tiles.is_empty());
    }

    #[test]
    fn the_empty_frontier_has_the_empty_root() {
        assert_eq!(Frontier::empty().root(), Hash::empty_tree());
        assert_eq!(Frontier::empty().size(), TreeSize::EMPTY);
    }

    #[test]
    fn a_frontier_has_one_hash_per_set_bit() {
        let size = TreeSize::new(0b1011);
        assert!(Frontier::new(size, vec![Hash::empty_tree(); 3]).is_ok());
        assert_eq!(
            Frontier::new(size, vec![Hash::empty_tree(); 2]),
            Err(AppendError::FrontierLength {
                size,
                expected: 3,
                got: 2
            })
        );
    }

    #[test]
    fn the_256th_leaf_completes_a_tile_and_starts_the_next_level() {
        let all = leaves(0..256);
        let start = Frontier::empty().append(&all[..250]).unwrap();
        let done = start.frontier.append(&all[250..]).unwrap();
        let ids: Vec<String> = done.tiles.iter().map(|w| w.tile().path()).collect();
        assert_eq!(ids, ["tile/0/000", "tile/1/000.p/1"]);
        assert_eq!(done.tiles[0].start(), 250);
        assert_eq!(done.tiles[0].hashes(), &all[250..]);
        assert_eq!(done.tiles[1].hashes(), &[mth(&all)]);
        assert_eq!(done.root, mth(&all));
        assert_eq!(done.frontier.hashes(), &[mth(&all)]);
    }

    #[test]
    fn an_append_reads_only_the_frontier() {
        // Resuming from a frontier read back from the tiles equals appending in one go.
        let all = leaves(0..700);
        let mut tiles = TileSet::new();
        let first = Frontier::empty().append(&all[..300]).unwrap();
        for write in &first.tiles {
            tiles.apply(write).unwrap();
        }
        let resumed = Frontier::from_store(TreeSize::new(300), &tiles).unwrap();
        assert_eq!(resumed, first.frontier);
        let rest = resumed.append(&all[300..]).unwrap();
        let whole = Frontier::empty().append(&all).unwrap();
        assert_eq!(rest.frontier, whole.frontier);
        assert_eq!(rest.root, mth(&all));
    }

    #[test]
    fn a_tile_write_after_a_gap_is_refused() {
        let all = leaves(0..10);
        let later = Frontier::empty().append(&all[..4]).unwrap();
        let next = later.frontier.append(&all[4..]).unwrap();
        let mut tiles = TileSet::new();
        assert_eq!(
            tiles.apply(&next.tiles[0]),
            Err(TileError::Gap { start: 4, held: 0 })
        );
    }

    #[test]
    fn a_full_tree_refuses_more_leaves() {
        let full = Frontier::new(TreeSize::new(u64::MAX), vec![Hash::empty_tree(); 64]).unwrap();
        assert_eq!(full.append(&leaves(0..1)), Err(AppendError::TreeFull));
    }
}
