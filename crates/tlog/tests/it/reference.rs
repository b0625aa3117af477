//! RFC 9162 §2.1 written as its recursive definitions over the leaves, with nothing shared with the
//! crate's tiled code but `mth` and `node_hash`: what generated proofs are compared with. Range
//! hashes are memoised, so that checking every proof of a 300-leaf tree stays fast.

use std::collections::HashMap;
use std::sync::Mutex;

use audit_tlog::{leaf_hash, mth, Frontier, Hash, TileSet};

pub struct Reference {
    leaves: Vec<Hash>,
    ranges: Mutex<HashMap<(usize, usize), Hash>>,
}

/// The leaf hashes of entries `0..n`, each its index's big-endian bytes.
pub fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// All the tiles of a tree of these leaves, built by appending them one at a time.
pub fn tiles_of(leaves: &[Hash]) -> TileSet {
    let mut tiles = TileSet::new();
    let mut frontier = Frontier::empty();
    for leaf in leaves {
        let appended = frontier.append(std::slice::from_ref(leaf)).unwrap();
        for write in &appended.tiles {
            tiles.apply(write).unwrap();
        }
        frontier = appended.frontier;
    }
    tiles
}

fn split(n: usize) -> usize {
    n.next_power_of_two() / 2
}

impl Reference {
    pub fn new(leaves: Vec<Hash>) -> Self {
        Self {
            leaves,
            ranges: Mutex::default(),
        }
    }

    pub fn leaf(&self, index: usize) -> Hash {
        self.leaves[index]
    }

    /// `MTH(D[lo:hi])`.
    pub fn mth(&self, lo: usize, hi: usize) -> Hash {
        if let Some(hash) = self.ranges.lock().unwrap().get(&(lo, hi)) {
            return *hash;
        }
        let hash = if hi - lo <= 1 {
            mth(&self.leaves[lo..hi])
        } else {
            let k = split(hi - lo);
            audit_tlog::node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi))
        };
        self.ranges.lock().unwrap().insert((lo, hi), hash);
        hash
    }

    /// `PATH(m, D[lo:hi])`, RFC 9162 §2.1.3.1.
    pub fn path(&self, m: usize, lo: usize, hi: usize) -> Vec<Hash> {
        let n = hi - lo;
        if n == 1 {
            return vec![];
        }
        let k = split(n);
        if m < k {
            let mut path = self.path(m, lo, lo + k);
            path.push(self.mth(lo + k, hi));
            path
        } else {
            let mut path = self.path(m - k, lo + k, hi);
            path.push(self.mth(lo, lo + k));
            path
        }
    }

    /// `PROOF(m, D[0:n])` via `SUBPROOF`, RFC 9162 §2.1.4.1.
    pub fn consistency(&self, m: usize, n: usize) -> Vec<Hash> {
        if m == 0 || m == n {
            return vec![];
        }
        self.subproof(m, 0, n, true)
    }

    fn subproof(&self, m: usize, lo: usize, hi: usize, complete: bool) -> Vec<Hash> {
        let n = hi - lo;
        if m == n {
            return if complete {
                vec![]
            } else {
                vec![self.mth(lo, hi)]
            };
        }
        let k = split(n);
        if m <= k {
            let mut proof = self.subproof(m, lo, lo + k, complete);
            proof.push(self.mth(lo + k, hi));
            proof
        } else {
            let mut proof = self.subproof(m - k, lo + k, hi, false);
            proof.push(self.mth(lo, lo + k));
            proof
        }
    }
}

#[test]
fn the_reference_split_is_the_largest_power_of_two_below() {
    for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (300, 256)] {
        assert_eq!(split(n), k);
    }
}
