//! Incremental appends against the Merkle Tree Hash computed from scratch, across tile boundaries
//! (255, 256, 257 leaves, and past 65,536, where level-2 tiles begin).

use std::sync::OnceLock;

use audit_tlog::{
    inclusion_proof, mth, root, verify_inclusion, Frontier, Hash, Plan, TileSet, TreeSize,
};
use proptest::prelude::*;

use crate::properties::plan_only;
use crate::reference::leaves;

const BIG: u64 = 70_000;

/// 70,000 leaves appended in uneven chunks, with the tiles written and the root after each chunk.
struct Big {
    leaves: Vec<Hash>,
    tiles: TileSet,
    roots: Vec<(u64, Hash, Frontier)>,
}

fn big() -> &'static Big {
    static BIG_TREE: OnceLock<Big> = OnceLock::new();
    BIG_TREE.get_or_init(|| {
        let leaves = leaves(BIG);
        let mut tiles = TileSet::new();
        let mut frontier = Frontier::empty();
        let mut roots = Vec::new();
        let chunks = [1, 254, 1, 1, 300, 64_979, 1, 1, 1, 4_000, 461];
        let mut at = 0usize;
        for chunk in chunks {
            let appended = frontier.append(&leaves[at..at + chunk]).unwrap();
            for write in &appended.tiles {
                tiles.apply(write).unwrap();
            }
            at += chunk;
            roots.push((at as u64, appended.root, appended.frontier.clone()));
            frontier = appended.frontier;
        }
        assert_eq!(at as u64, BIG);
        Big {
            leaves,
            tiles,
            roots,
        }
    })
}

#[test]
fn roots_after_each_chunk_equal_the_mth_from_scratch() {
    let big = big();
    let sizes: Vec<u64> = big.roots.iter().map(|(size, _, _)| *size).collect();
    assert_eq!(
        sizes,
        [1, 255, 256, 257, 557, 65_536, 65_537, 65_538, 65_539, 69_539, 70_000]
    );
    for (size, appended_root, frontier) in &big.roots {
        let expected = mth(&big.leaves[..*size as usize]);
        assert_eq!(*appended_root, expected, "size {size}");
        let tree = TreeSize::new(*size);
        assert_eq!(root(tree, &big.tiles), Ok(expected), "tiles, size {size}");
        // The tiles hold enough to resume appending from any checkpointed size.
        assert_eq!(
            &Frontier::from_store(tree, &big.tiles).unwrap(),
            frontier,
            "size {size}"
        );
    }
}

#[test]
fn the_tiles_are_those_of_the_tree_from_scratch() {
    let big = big();
    let leaves = &big.leaves;
    // tlog-tiles, for 70,000: 273 full level-0 tiles and one of 112, a full level-1 tile and one of
    // 17, and a level-2 tile of 1.
    assert_eq!(big.tiles.len(), 274 + 2 + 1);
    for index in 0..274u64 {
        let start = index as usize * 256;
        let end = (start + 256).min(leaves.len());
        assert_eq!(
            big.tiles.get(0, index),
            Some(&leaves[start..end]),
            "0/{index}"
        );
    }
    for index in 0..2u64 {
        let expected: Vec<Hash> = (index * 256..(index * 256 + 256).min(273))
            .map(|i| mth(&leaves[i as usize * 256..(i as usize + 1) * 256]))
            .collect();
        assert_eq!(big.tiles.get(1, index), Some(&expected[..]), "1/{index}");
    }
    assert_eq!(big.tiles.get(2, 0), Some(&[mth(&leaves[..65_536])][..]));
}

#[test]
fn proofs_in_the_big_tree_read_few_tiles_and_verify() {
    let big = big();
    let size = TreeSize::new(BIG);
    let tree_root = mth(&big.leaves);
    for index in [0, 255, 256, 65_535, 65_536, 69_888, BIG - 1] {
        let plan = Plan::inclusion(index, size).unwrap();
        // O(log n): one tile per tile level touched, at most 2 per level.
        assert!(plan.tiles().len() <= 6, "{index}: {:?}", plan.tiles());
        let proof = inclusion_proof(index, size, &plan_only(&plan, &big.tiles)).unwrap();
        assert_eq!(proof, inclusion_proof(index, size, &big.tiles).unwrap());
        let leaf = big.leaves[index as usize];
        assert_eq!(
            verify_inclusion(&leaf, index, size, &proof, &tree_root),
            Ok(())
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn appending_in_any_chunks_equals_appending_one_by_one(
        chunks in proptest::collection::vec(0usize..300, 1..8),
    ) {
        let total: usize = chunks.iter().sum();
        let leaves = leaves(total as u64);
        let mut tiles = TileSet::new();
        let mut frontier = Frontier::empty();
        let mut at = 0;
        for chunk in chunks {
            let appended = frontier.append(&leaves[at..at + chunk]).unwrap();
            for write in &appended.tiles {
                prop_assert_eq!(write.tile().width(), write.start() + write.hashes().len() as u16);
                tiles.apply(write).unwrap();
            }
            at += chunk;
            prop_assert_eq!(appended.root, mth(&leaves[..at]));
            prop_assert_eq!(appended.frontier.size(), TreeSize::new(at as u64));
            frontier = appended.frontier;
        }
        prop_assert_eq!(tiles, crate::reference::tiles_of(&leaves));
    }
}
