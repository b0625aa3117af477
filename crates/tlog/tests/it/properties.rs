//! Every proof of every tree up to 300 leaves (past the first tile boundary) against the RFC's
//! recursive definitions, read from exactly the tiles its plan names, verified, and refused once
//! altered.

use std::sync::OnceLock;

use audit_tlog::{consistency_proof, inclusion_proof, Hash, Plan, TileSet, TreeSize};
use proptest::prelude::*;

use crate::adversarial::{
    assert_all_refused, consistency_mutations, flip, inclusion_mutations, Consistency, Inclusion,
};
use crate::reference::{leaves, tiles_of, Reference};

const MAX: u64 = 300;

struct Small {
    reference: Reference,
    tiles: TileSet,
    roots: Vec<Hash>,
}

/// The tiles of a 300-leaf tree serve every smaller size too: a complete node never changes.
fn small() -> &'static Small {
    static SMALL: OnceLock<Small> = OnceLock::new();
    SMALL.get_or_init(|| {
        let leaves = leaves(MAX);
        let tiles = tiles_of(&leaves);
        let reference = Reference::new(leaves);
        let roots = (0..=MAX as usize).map(|n| reference.mth(0, n)).collect();
        Small {
            reference,
            tiles,
            roots,
        }
    })
}

/// Only the tiles `plan` names, each cut to its width at the plan's size: what an adapter fetches.
pub fn plan_only(plan: &Plan, all: &TileSet) -> TileSet {
    let mut tiles = TileSet::new();
    for tile in plan.tiles() {
        let held = all
            .get(tile.level(), tile.index())
            .expect("the tile is stored");
        let hashes = held[..usize::from(tile.width())].to_vec();
        tiles.insert(tile.level(), tile.index(), hashes).unwrap();
    }
    tiles
}

fn inclusion(index: u64, size: u64) -> Inclusion {
    let small = small();
    let tree = TreeSize::new(size);
    let plan = Plan::inclusion(index, tree).unwrap();
    let proof = inclusion_proof(index, tree, &plan_only(&plan, &small.tiles)).unwrap();
    Inclusion {
        leaf: small.reference.leaf(index as usize),
        index,
        size,
        proof,
        root: small.roots[size as usize],
    }
}

fn consistency(from: u64, to: u64) -> Consistency {
    let small = small();
    let (first, second) = (TreeSize::new(from), TreeSize::new(to));
    let plan = Plan::consistency(first, second).unwrap();
    let proof = consistency_proof(first, second, &plan_only(&plan, &small.tiles)).unwrap();
    Consistency {
        from,
        to,
        proof,
        from_root: small.roots[from as usize],
        to_root: small.roots[to as usize],
    }
}

#[test]
fn every_inclusion_proof_up_to_300_is_the_rfcs_and_verifies() {
    let small = small();
    for size in 1..=MAX {
        for index in 0..size {
            let claim = inclusion(index, size);
            let expected = small.reference.path(index as usize, 0, size as usize);
            assert_eq!(claim.proof, expected, "leaf {index} of {size}");
            assert_eq!(claim.verify(), Ok(()), "leaf {index} of {size}");
        }
    }
}

#[test]
fn every_inclusion_proof_up_to_300_fails_with_any_hash_or_index_altered() {
    for size in 1..=MAX {
        for index in 0..size {
            let good = inclusion(index, size);
            for i in 0..good.proof.len() {
                let mut claim = good.clone();
                claim.proof[i] = flip(&claim.proof[i], i);
                assert!(
                    claim.verify().is_err(),
                    "leaf {index} of {size}, proof[{i}]"
                );
            }
            let wrong_leaf = Inclusion {
                leaf: flip(&good.leaf, 0),
                ..good.clone()
            };
            assert!(wrong_leaf.verify().is_err(), "leaf {index} of {size}, leaf");
            let wrong_root = Inclusion {
                root: flip(&good.root, 255),
                ..good.clone()
            };
            assert!(wrong_root.verify().is_err(), "leaf {index} of {size}, root");
            // Every other index, for trees up to 64; the neighbours and bit flips above that.
            let others: Vec<u64> = if size <= 64 {
                (0..size + 2).collect()
            } else {
                vec![
                    index.wrapping_sub(1),
                    index + 1,
                    index ^ 1,
                    index ^ 2,
                    index ^ 64,
                ]
            };
            for other in others.into_iter().filter(|&i| i != index) {
                let claim = Inclusion {
                    index: other,
                    ..good.clone()
                };
                assert!(claim.verify().is_err(), "leaf {index} of {size} as {other}");
            }
        }
    }
}

#[test]
fn every_inclusion_mutation_is_refused_up_to_64() {
    for size in 1..=64 {
        for index in 0..size {
            let good = inclusion(index, size);
            assert_all_refused(
                &format!("leaf {index} of {size}"),
                inclusion_mutations(&good),
                |c| c.verify().is_ok(),
            );
        }
    }
}

#[test]
fn every_consistency_proof_up_to_300_is_the_rfcs_verifies_and_fails_altered() {
    let small = small();
    for to in 0..=MAX {
        for from in 0..=to {
            let good = consistency(from, to);
            let expected = small.reference.consistency(from as usize, to as usize);
            assert_eq!(good.proof, expected, "{from} to {to}");
            assert_eq!(good.verify(), Ok(()), "{from} to {to}");
            for i in 0..good.proof.len() {
                let mut claim = good.clone();
                claim.proof[i] = flip(&claim.proof[i], i);
                assert!(claim.verify().is_err(), "{from} to {to}, proof[{i}]");
            }
            let wrong_from = Consistency {
                from_root: flip(&good.from_root, 1),
                ..good.clone()
            };
            assert!(wrong_from.verify().is_err(), "{from} to {to}, from root");
            // The empty tree is a prefix of every tree, whatever its root.
            if from > 0 {
                let wrong_to = Consistency {
                    to_root: flip(&good.to_root, 2),
                    ..good.clone()
                };
                assert!(wrong_to.verify().is_err(), "{from} to {to}, to root");
            }
        }
    }
}

#[test]
fn every_consistency_mutation_is_refused_up_to_64() {
    for to in 1..=64 {
        for from in 1..to {
            let good = consistency(from, to);
            assert_all_refused(
                &format!("{from} to {to}"),
                consistency_mutations(&good),
                |c| c.verify().is_ok(),
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_inclusion_mutation_is_refused(
        (size, index) in (1..=MAX).prop_flat_map(|size| (Just(size), 0..size)),
        pick in any::<prop::sample::Index>(),
    ) {
        let good = inclusion(index, size);
        let mutations = inclusion_mutations(&good);
        let (desc, claim) = &mutations[pick.index(mutations.len())];
        prop_assert!(claim.verify().is_err(), "leaf {} of {}: {}", index, size, desc);
    }

    #[test]
    fn any_consistency_mutation_is_refused(
        (to, from) in (2..=MAX).prop_flat_map(|to| (Just(to), 1..to)),
        pick in any::<prop::sample::Index>(),
    ) {
        let good = consistency(from, to);
        let mutations = consistency_mutations(&good);
        let (desc, claim) = &mutations[pick.index(mutations.len())];
        prop_assert!(claim.verify().is_err(), "{} to {}: {}", from, to, desc);
    }
}
