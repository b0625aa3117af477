//! Published RFC 6962 test vectors (RFC 9162 keeps RFC 6962's hashing, so they hold for both).
//!
//! Source of every vector here: the Go module transparency-dev/merkle (the successor of the
//! certificate-transparency and Trillian Merkle code), in
//! - `testonly/constants.go` at 582a6ad190b6848f1d26f8bf08ddef29955d9db1: the 8 leaf inputs, the
//!   root of every tree size 0..=8 and the hash of every perfect subtree of the 8-leaf tree;
//! - `proof/verify_test.go` at 02194e9afb6c1d95b5381350007963aa70fff472: inclusion proofs (there
//!   with 1-based leaf numbers) and consistency proofs.
//!
//! Only the hex values are taken; the checks are this crate's.

use audit_tlog::{
    consistency_proof, inclusion_proof, leaf_hash, mth, root, verify_consistency, verify_inclusion,
    Frontier, Hash, NodeId, TileSet, TreeSize,
};

use crate::reference::tiles_of;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn h(text: &str) -> Hash {
    Hash::try_from(hex(text).as_slice()).unwrap()
}

/// `LeafInputs()`: the entries, as bytes.
const INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `RootHashes()`: the root of the tree of the first `i` inputs, for `i` in 0..=8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// `NodeHashes()`: by level, then index, every perfect subtree of the 8-leaf tree.
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// `inclusionProofs`, as (0-based leaf index, tree size, proof).
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// `consistencyProofs`, as (size1, size2, proof).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn leaves() -> Vec<Hash> {
    INPUTS.iter().map(|input| leaf_hash(&hex(input))).collect()
}

fn hashes(texts: &[&str]) -> Vec<Hash> {
    texts.iter().map(|text| h(text)).collect()
}

fn tiles() -> TileSet {
    tiles_of(&leaves())
}

#[test]
fn leaf_hashes_match_the_published_level_0_nodes() {
    assert_eq!(leaves(), hashes(NODES[0]));
}

#[test]
fn every_root_matches_by_mth_by_tiles_and_by_append() {
    let leaves = leaves();
    let tiles = tiles();
    let mut frontier = Frontier::empty();
    for (size, expected) in ROOTS.iter().enumerate() {
        let expected = h(expected);
        assert_eq!(mth(&leaves[..size]), expected, "mth, size {size}");
        let tree = TreeSize::new(size as u64);
        assert_eq!(root(tree, &tiles), Ok(expected), "tiles, size {size}");
        assert_eq!(frontier.root(), expected, "append, size {size}");
        if let Some(leaf) = leaves.get(size) {
            frontier = frontier.append(&[*leaf]).unwrap().frontier;
        }
    }
}

#[test]
fn every_perfect_subtree_matches_the_published_nodes() {
    let tiles = tiles();
    for (level, nodes) in NODES.iter().enumerate() {
        for (index, expected) in nodes.iter().enumerate() {
            let node = NodeId::new(level as u8, index as u64).unwrap();
            assert_eq!(
                audit_tlog::HashStore::node(&tiles, node),
                Some(h(expected)),
                "{node:?}"
            );
        }
    }
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let leaves = leaves();
    let tiles = tiles();
    for (index, size, expected) in INCLUSION {
        let tree = TreeSize::new(size);
        let proof = inclusion_proof(index, tree, &tiles).unwrap();
        assert_eq!(proof, hashes(expected), "leaf {index} of {size}");
        let root = h(ROOTS[size as usize]);
        assert_eq!(
            verify_inclusion(&leaves[index as usize], index, tree, &proof, &root),
            Ok(()),
            "leaf {index} of {size}"
        );
    }
}

#[test]
fn consistency_proofs_match_and_verify() {
    let tiles = tiles();
    for (from, to, expected) in CONSISTENCY {
        let (first, second) = (TreeSize::new(from), TreeSize::new(to));
        let proof = consistency_proof(first, second, &tiles).unwrap();
        assert_eq!(proof, hashes(expected), "{from} to {to}");
        let (from_root, to_root) = (h(ROOTS[from as usize]), h(ROOTS[to as usize]));
        assert_eq!(
            verify_consistency(first, second, &proof, &from_root, &to_root),
            Ok(()),
            "{from} to {to}"
        );
    }
}
