//! Proofs an attacker might hand a verifier: every one must be refused. A verifier that accepts a
//! bad proof is the worst bug this crate can have, so the mutations here are also applied to every
//! proof of every small tree in `properties`.

use audit_tlog::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    Hash, TreeSize, VerifyError,
};

use crate::reference::{leaves, tiles_of};

/// An inclusion claim: leaf hash, index, size, proof, root.
#[derive(Clone, Debug)]
pub struct Inclusion {
    pub leaf: Hash,
    pub index: u64,
    pub size: u64,
    pub proof: Vec<Hash>,
    pub root: Hash,
}

/// A consistency claim: sizes, proof, roots.
#[derive(Clone, Debug)]
pub struct Consistency {
    pub from: u64,
    pub to: u64,
    pub proof: Vec<Hash>,
    pub from_root: Hash,
    pub to_root: Hash,
}

impl Inclusion {
    pub fn verify(&self) -> Result<(), VerifyError> {
        verify_inclusion(
            &self.leaf,
            self.index,
            TreeSize::new(self.size),
            &self.proof,
            &self.root,
        )
    }
}

impl Consistency {
    pub fn verify(&self) -> Result<(), VerifyError> {
        verify_consistency(
            TreeSize::new(self.from),
            TreeSize::new(self.to),
            &self.proof,
            &self.from_root,
            &self.to_root,
        )
    }
}

/// A hash with one bit flipped.
pub fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut bytes = *hash.as_bytes();
    bytes[bit / 8 % 32] ^= 1 << (bit % 8);
    Hash::from_bytes(bytes)
}

fn other() -> Hash {
    leaf_hash(b"not in the tree")
}

/// Every way of altering a valid inclusion claim by one thing, described.
pub fn inclusion_mutations(good: &Inclusion) -> Vec<(String, Inclusion)> {
    let mut out = Vec::new();
    let mut push = |desc: String, change: &dyn Fn(&mut Inclusion)| {
        let mut claim = good.clone();
        change(&mut claim);
        out.push((desc, claim));
    };
    for index in [
        good.index.wrapping_sub(1),
        good.index + 1,
        good.index ^ 1,
        good.index ^ 2,
    ] {
        if index != good.index {
            push(format!("index {index}"), &|c| c.index = index);
        }
    }
    // Not size ± 1: a path does not pin the size down to one value (leaf 0's path is the same in
    // trees of 5 to 8 leaves). The root does, and a root is trusted only as signed with its size.
    for size in [good.size * 2, good.size / 2, 0] {
        if size != good.size {
            push(format!("size {size}"), &|c| c.size = size);
        }
    }
    push("wrong leaf".into(), &|c| c.leaf = other());
    push("leaf as root".into(), &|c| c.root = c.leaf);
    push("empty root".into(), &|c| c.root = Hash::empty_tree());
    push("flipped root".into(), &|c| c.root = flip(&c.root, 7));
    push("trailing hash".into(), &|c| c.proof.push(other()));
    push("trailing root".into(), &|c| c.proof.push(c.root));
    push("preceding hash".into(), &|c| c.proof.insert(0, other()));
    push("preceding leaf".into(), &|c| c.proof.insert(0, c.leaf));
    for i in 0..good.proof.len() {
        push(format!("flipped proof[{i}]"), &|c| {
            c.proof[i] = flip(&c.proof[i], 3 + i)
        });
        push(format!("removed proof[{i}]"), &|c| {
            c.proof.remove(i);
        });
        push(format!("inserted before proof[{i}]"), &|c| {
            c.proof.insert(i, other())
        });
        if i + 1 < good.proof.len() {
            push(format!("swapped proof[{i}] and [{}]", i + 1), &|c| {
                c.proof.swap(i, i + 1);
            });
        }
    }
    out.retain(|(_, claim)| {
        (
            claim.leaf,
            claim.index,
            claim.size,
            &claim.proof,
            claim.root,
        ) != (good.leaf, good.index, good.size, &good.proof, good.root)
    });
    out
}

/// Every way of altering a valid consistency claim by one thing, described.
pub fn consistency_mutations(good: &Consistency) -> Vec<(String, Consistency)> {
    let mut out = Vec::new();
    let mut push = |desc: String, change: &dyn Fn(&mut Consistency)| {
        let mut claim = good.clone();
        change(&mut claim);
        out.push((desc, claim));
    };
    for from in [good.from.wrapping_sub(1), good.from + 1, good.from ^ 2] {
        if from != good.from && from <= good.to && from != 0 {
            push(format!("from {from}"), &|c| c.from = from);
        }
    }
    // Not `to` ± 1, for the reason given for inclusion sizes.
    for to in [good.to * 2, good.to / 2] {
        if to != good.to && to >= good.from {
            push(format!("to {to}"), &|c| c.to = to);
        }
    }
    push("from > to".into(), &|c| {
        std::mem::swap(&mut c.from, &mut c.to)
    });
    push("wrong from root".into(), &|c| c.from_root = other());
    push("wrong to root".into(), &|c| c.to_root = other());
    push("swapped roots".into(), &|c| {
        std::mem::swap(&mut c.from_root, &mut c.to_root)
    });
    push("empty proof".into(), &|c| c.proof.clear());
    push("trailing hash".into(), &|c| c.proof.push(other()));
    push("trailing from root".into(), &|c| c.proof.push(c.from_root));
    push("trailing to root".into(), &|c| c.proof.push(c.to_root));
    push("preceding from root".into(), &|c| {
        c.proof.insert(0, c.from_root)
    });
    push("preceding to root".into(), &|c| {
        c.proof.insert(0, c.to_root)
    });
    for i in 0..good.proof.len() {
        push(format!("flipped proof[{i}]"), &|c| {
            c.proof[i] = flip(&c.proof[i], 4 + i)
        });
        push(format!("removed proof[{i}]"), &|c| {
            c.proof.remove(i);
        });
        push(format!("duplicated proof[{i}]"), &|c| {
            c.proof.insert(i, c.proof[i])
        });
        if i + 1 < good.proof.len() {
            push(format!("swapped proof[{i}] and [{}]", i + 1), &|c| {
                c.proof.swap(i, i + 1);
            });
        }
    }
    out.retain(|(_, claim)| {
        (
            claim.from,
            claim.to,
            &claim.proof,
            claim.from_root,
            claim.to_root,
        ) != (
            good.from,
            good.to,
            &good.proof,
            good.from_root,
            good.to_root,
        )
    });
    out
}

/// Panics naming each mutation that verified.
pub fn assert_all_refused<T>(what: &str, mutations: Vec<(String, T)>, verify: impl Fn(&T) -> bool) {
    let accepted: Vec<String> = mutations
        .into_iter()
        .filter(|(_, claim)| verify(claim))
        .map(|(desc, _)| desc)
        .collect();
    assert!(accepted.is_empty(), "{what}: accepted {accepted:?}");
}

fn inclusion_claim(index: u64, size: u64) -> Inclusion {
    let leaves = leaves(size);
    let tiles = tiles_of(&leaves);
    let tree = TreeSize::new(size);
    Inclusion {
        leaf: leaves[index as usize],
        index,
        size,
        proof: inclusion_proof(index, tree, &tiles).unwrap(),
        root: root(tree, &tiles).unwrap(),
    }
}

fn consistency_claim(from: u64, to: u64) -> Consistency {
    let leaves = leaves(to);
    let tiles = tiles_of(&leaves);
    Consistency {
        from,
        to,
        proof: consistency_proof(TreeSize::new(from), TreeSize::new(to), &tiles).unwrap(),
        from_root: root(TreeSize::new(from), &tiles).unwrap(),
        to_root: root(TreeSize::new(to), &tiles).unwrap(),
    }
}

#[test]
fn a_wrong_index_is_refused_for_every_other_index() {
    let good = inclusion_claim(5, 11);
    assert_eq!(good.verify(), Ok(()));
    for index in (0..16).filter(|&i| i != 5) {
        let claim = Inclusion {
            index,
            ..good.clone()
        };
        assert!(claim.verify().is_err(), "index {index}");
    }
}

#[test]
fn a_truncated_or_extended_path_is_refused() {
    let good = inclusion_claim(3, 13);
    let mut short = good.clone();
    short.proof.pop();
    assert_eq!(short.verify(), Err(VerifyError::WrongLength));
    let mut long = good.clone();
    long.proof.push(other());
    assert_eq!(long.verify(), Err(VerifyError::WrongLength));
}

#[test]
fn swapped_siblings_are_refused() {
    let good = inclusion_claim(6, 16);
    for i in 0..good.proof.len() - 1 {
        let mut claim = good.clone();
        claim.proof.swap(i, i + 1);
        assert_eq!(claim.verify(), Err(VerifyError::RootMismatch), "swap {i}");
    }
}

#[test]
fn nothing_is_included_in_the_empty_tree() {
    let empty = Hash::empty_tree();
    for index in [0, 1] {
        assert_eq!(
            verify_inclusion(&empty, index, TreeSize::EMPTY, &[], &empty),
            Err(VerifyError::IndexOutOfRange {
                index,
                size: TreeSize::EMPTY
            })
        );
    }
    let tiles = tiles_of(&[]);
    assert!(inclusion_proof(0, TreeSize::EMPTY, &tiles).is_err());
}

#[test]
fn a_tree_of_one_proves_its_leaf_with_an_empty_path() {
    let good = inclusion_claim(0, 1);
    assert!(good.proof.is_empty());
    assert_eq!(good.root, good.leaf);
    assert_eq!(good.verify(), Ok(()));
    assert_all_refused("size 1", inclusion_mutations(&good), |c| c.verify().is_ok());
    let padded = Inclusion {
        proof: vec![good.leaf],
        ..good.clone()
    };
    assert!(padded.verify().is_err());
}

#[test]
fn the_last_leaf_of_a_tree_that_is_not_a_power_of_two() {
    for size in [3, 5, 6, 7, 255, 257, 300] {
        let good = inclusion_claim(size - 1, size);
        assert_eq!(good.verify(), Ok(()), "size {size}");
        assert_all_refused(&format!("size {size}"), inclusion_mutations(&good), |c| {
            c.verify().is_ok()
        });
    }
}

#[test]
fn consistency_between_equal_sizes_needs_an_empty_proof_and_equal_roots() {
    let good = consistency_claim(7, 7);
    assert!(good.proof.is_empty());
    assert_eq!(good.verify(), Ok(()));
    let padded = Consistency {
        proof: vec![good.from_root],
        ..good.clone()
    };
    assert_eq!(padded.verify(), Err(VerifyError::WrongLength));
    let other_root = Consistency {
        to_root: other(),
        ..good.clone()
    };
    assert_eq!(other_root.verify(), Err(VerifyError::RootMismatch));
}

#[test]
fn consistency_from_the_empty_tree_needs_its_root() {
    let good = consistency_claim(0, 5);
    assert!(good.proof.is_empty());
    assert_eq!(good.from_root, Hash::empty_tree());
    assert_eq!(good.verify(), Ok(()));
    let forged = Consistency {
        from_root: other(),
        ..good.clone()
    };
    assert_eq!(forged.verify(), Err(VerifyError::RootMismatch));
    let padded = Consistency {
        proof: vec![other()],
        ..good
    };
    assert_eq!(padded.verify(), Err(VerifyError::WrongLength));
    let both_empty = consistency_claim(0, 0);
    assert_eq!(both_empty.verify(), Ok(()));
}

#[test]
fn consistency_backwards_is_refused() {
    let good = consistency_claim(3, 9);
    let backwards = Consistency {
        from: 9,
        to: 3,
        from_root: good.to_root,
        to_root: good.from_root,
        ..good
    };
    assert!(matches!(
        backwards.verify(),
        Err(VerifyError::SizesOutOfOrder { .. })
    ));
}

#[test]
fn every_consistency_mutation_is_refused() {
    for (from, to) in [
        (1, 2),
        (1, 8),
        (4, 8),
        (6, 8),
        (6, 7),
        (255, 257),
        (256, 300),
    ] {
        let good = consistency_claim(from, to);
        assert_eq!(good.verify(), Ok(()), "{from} to {to}");
        assert_all_refused(
            &format!("{from} to {to}"),
            consistency_mutations(&good),
            |c| c.verify().is_ok(),
        );
    }
}
