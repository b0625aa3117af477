//! Where the tree's hashes live: tiles in the shape of C2SP tlog-tiles, and the one question a store
//! answers, "what is the hash of this perfect subtree?".
//!
//! A tile of level `L` and index `N` holds up to 256 consecutive node hashes of tree level `8L`, from
//! node `256N`: at level 0 the leaf hashes, above it the MTH of each full tile below. Nodes between
//! those levels are not stored; they are rehashed from the at most 128 tile hashes they span. So any
//! node is read from exactly one tile, which [`TileId::for_node`] names.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::hash::{node_hash, Hash};
use crate::tree::{mth, NodeId, TreeSize};

/// Tree levels per tile level: a tile is a subtree of height 8.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u16 = 1 << TILE_HEIGHT;

/// One tile of a tree of a given size: level, index, and how many hashes it holds at that size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileId {
    level: u8,
    index: u64,
    width: u16,
}

impl TileId {
    /// `None` unless `width` is 1 to 256 and the tile lies within a 64-bit tree (level at most 7).
    pub fn new(level: u8, index: u64, width: u16) -> Option<Self> {
        let bits = u32::from(level + 1) * u32::from(TILE_HEIGHT);
        let fits = level < 8
            && if bits >= 64 {
                index == 0
            } else {
                index < 1u64 << (64 - bits)
            };
        (fits && (1..=TILE_WIDTH).contains(&width)).then_some(Self {
            level,
            index,
            width,
        })
    }

    /// The tile that holds `node` (or the hashes it is rehashed from), as wide as it is in a tree of
    /// `size`. `None` when the node is not complete in that tree, so it has no stored hash yet.
    pub fn for_node(node: NodeId, size: TreeSize) -> Option<Self> {
        if !node.is_complete_in(size) {
            return None;
        }
        let level = node.level() / TILE_HEIGHT;
        let below = node.level() % TILE_HEIGHT;
        let index = node.index() >> (TILE_HEIGHT - below);
        // Hashes at level 8L in a tree of `size`, less those in the tiles before this one.
        let at_level = size.get() >> (u32::from(level) * u32::from(TILE_HEIGHT));
        let width = (at_level - (index << TILE_HEIGHT)).min(u64::from(TILE_WIDTH));
        Some(Self {
            level,
            index,
            width: width as u16,
        })
    }

    pub const fn level(self) -> u8 {
        self.level
    }

    pub const fn index(self) -> u64 {
        self.index
    }

    pub const fn width(self) -> u16 {
        self.width
    }

    pub const fn is_full(self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The tlog-tiles resource path, `tile/<L>/<N>[.p/<W>]`, with `N` in 3-digit groups of which all
    /// but the last begin with `x` (1234067 is `x001/x234/067`).
    pub fn path(self) -> String {
        let mut path = format!("tile/{}/", self.level);
        let digits = self.index.to_string();
        let groups = digits.len().div_ceil(3);
        let padded = format!("{digits:0>width$}", width = groups * 3);
        for (i, group) in padded.as_bytes().chunks(3).enumerate() {
            if i + 1 < groups {
                path.push('x');
            }
            path.push_str(std::str::from_utf8(group).expect("ASCII digits"));
            path.push(if i + 1 < groups { '/' } else { '.' });
        }
        path.pop();
        if !self.is_full() {
            write!(path, ".p/{}", self.width).expect("writing to a String");
        }
        path
    }
}

/// The hashes of perfect subtrees, by (level, index). Adapters fetch what a [`Plan`](crate::Plan)
/// names into a [`TileSet`]; tests may use a slice of leaf hashes or a map of nodes.
pub trait HashStore {
    /// `None` when the store does not hold (or cannot compute) that node.
    fn node(&self, id: NodeId) -> Option<Hash>;
}

impl<T: HashStore + ?Sized> HashStore for &T {
    fn node(&self, id: NodeId) -> Option<Hash> {
        (**self).node(id)
    }
}

/// A slice of leaf hashes: every node is rehashed from its leaves, O(2^level). The reference store.
impl HashStore for [Hash] {
    fn node(&self, id: NodeId) -> Option<Hash> {
        let start = usize::try_from(id.start()).ok()?;
        let end = start.checked_add(1usize.checked_shl(u32::from(id.level()))?)?;
        self.get(start..end).map(mth)
    }
}

impl HashStore for Vec<Hash> {
    fn node(&self, id: NodeId) -> Option<Hash> {
        self.as_slice().node(id)
    }
}

/// Node hashes kept one by one.
impl HashStore for HashMap<NodeId, Hash> {
    fn node(&self, id: NodeId) -> Option<Hash> {
        self.get(&id).copied()
    }
}

/// Tiles in memory, by (level, index), each as wide as its hashes. What an adapter fills from the
/// items it read, and what an append's [`TileWrite`](crate::TileWrite)s build up in tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileSet {
    tiles: HashMap<(u8, u64), Vec<Hash>>,
}

/// A tile that cannot be held as given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TileError {
    #[error("a tile holds at most 256 hashes, not {0}")]
    TooWide(usize),
    #[error("hashes from position {start} of a tile that has only {held}")]
    Gap { start: u16, held: usize },
}

impl TileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `hashes` as the tile's hashes from position 0, replacing what it held.
    pub fn insert(&mut self, level: u8, index: u64, hashes: Vec<Hash>) -> Result<(), TileError> {
        if hashes.len() > usize::from(TILE_WIDTH) {
            return Err(TileError::TooWide(hashes.len()));
        }
        self.tiles.insert((level, index), hashes);
        Ok(())
    }

    /// Writes `write`'s hashes at their positions, as an adapter's store would.
    pub fn apply(&mut self, write: &crate::TileWrite) -> Result<(), TileError> {
        let tile = write.tile();
        let held = self.tiles.entry((tile.level, tile.index)).or_default();
        let start = usize::from(write.start());
        if start > held.len() {
            return Err(TileError::Gap {
                start: write.start(),
                held: held.len(),
            });
        }
        let end = start + write.hashes().len();
        held.resize(held.len().max(end), Hash::empty_tree());
        held[start..end].copy_from_slice(write.hashes());
        Ok(())
    }

    pub fn get(&self, level: u8, index: u64) -> Option<&[Hash]> {
        self.tiles.get(&(level, index)).map(Vec::as_slice)
    }

    /// The number of tiles held.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }
}

impl HashStore for TileSet {
    fn node(&self, id: NodeId) -> Option<Hash> {
        let level = id.level() / TILE_HEIGHT;
        let below = id.level() % TILE_HEIGHT;
        let tile = self.get(level, id.index() >> (TILE_HEIGHT - below))?;
        let span = 1usize << below;
        let start = ((id.index() << below) & u64::from(TILE_WIDTH - 1)) as usize;
        let mut hashes = tile.get(start..start + span)?.to_vec();
        // A perfect subtree of `span` tile hashes: pair them up level by level.
        while hashes.len() > 1 {
            hashes = hashes
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
        }
        hashes.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn tile(level: u8, index: u64, width: u16) -> TileId {
        TileId::new(level, index, width).unwrap()
    }

    #[test]
    fn paths_follow_tlog_tiles() {
        assert_eq!(tile(0, 0, 256).path(), "tile/0/000");
        assert_eq!(tile(0, 5, 17).path(), "tile/0/005.p/17");
        assert_eq!(tile(1, 999, 256).path(), "tile/1/999");
        assert_eq!(tile(1, 1000, 1).path(), "tile/1/x001/000.p/1");
        assert_eq!(tile(2, 1_234_067, 256).path(), "tile/2/x001/x234/067");
        assert_eq!(
            tile(0, u64::MAX >> 8, 256).path(),
            "tile/0/x072/x057/x594/x037/x927/935"
        );
    }

    #[test]
    fn tile_ids_are_bounded() {
        assert!(TileId::new(0, 0, 0).is_none());
        assert!(TileId::new(0, 0, 257).is_none());
        assert!(TileId::new(8, 0, 1).is_none());
        assert!(TileId::new(7, 0, 256).is_some());
        assert!(TileId::new(7, 1, 256).is_none());
        assert!(TileId::new(0, 1 << 56, 256).is_none());
        assert!(TileId::new(0, (1 << 56) - 1, 256).is_some());
    }

    #[test]
    fn a_tree_of_70000_has_the_tiles_the_spec_lists() {
        // tlog-tiles: 273 full level-0 tiles, a level-0 tile of width 112, a full level-1 tile, a
        // level-1 tile of width 17 and a level-2 tile of width 1.
        let size = TreeSize::new(70_000);
        let last_leaf = TileId::for_node(NodeId::leaf(69_999), size);
        assert_eq!(last_leaf, Some(tile(0, 273, 112)));
        assert_eq!(
            TileId::for_node(NodeId::leaf(100), size),
            Some(tile(0, 0, 256))
        );
        let level8 = |index| NodeId::new(8, index).unwrap();
        assert_eq!(TileId::for_node(level8(255), size), Some(tile(1, 0, 256)));
        assert_eq!(TileId::for_node(level8(272), size), Some(tile(1, 1, 17)));
        let level16 = NodeId::new(16, 0).unwrap();
        assert_eq!(TileId::for_node(level16, size), Some(tile(2, 0, 1)));
        // Level 4 nodes are rehashed from 16 level-0 hashes of the tile they sit in.
        let level4 = NodeId::new(4, 4374).unwrap();
        assert_eq!(TileId::for_node(level4, size), Some(tile(0, 273, 112)));
        assert_eq!(TileId::for_node(NodeId::new(4, 4375).unwrap(), size), None);
    }

    #[test]
    fn a_tree_of_256_has_a_full_tile_and_a_level_1_tile_of_width_1() {
        let size = TreeSize::new(256);
        assert_eq!(
            TileId::for_node(NodeId::leaf(255), size),
            Some(tile(0, 0, 256))
        );
        assert_eq!(
            TileId::for_node(NodeId::new(8, 0).unwrap(), size),
            Some(tile(1, 0, 1))
        );
    }

    #[test]
    fn a_tile_set_rehashes_nodes_between_tile_levels() {
        let leaves: Vec<Hash> = (0..256u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut tiles = TileSet::new();
        tiles.insert(0, 0, leaves.clone()).unwrap();
        for level in 0..8 {
            for index in 0..(256u64 >> level) {
                let node = NodeId::new(level, index).unwrap();
                assert_eq!(tiles.node(node), leaves.node(node), "{node:?}");
            }
        }
        assert_eq!(tiles.node(NodeId::new(8, 0).unwrap()), None);
        assert_eq!(tiles.node(NodeId::leaf(256)), None);
    }

    #[test]
    fn a_tile_set_refuses_overwide_tiles() {
        let mut tiles = TileSet::new();
        let hashes = vec![Hash::empty_tree(); 257];
        assert_eq!(tiles.insert(0, 0, hashes), Err(TileError::TooWide(257)));
        assert!(tiles.is_empty());
    }
}
