//! Checking a stored log against itself and against the stored events: what `audit-log verify`
//! computes once it has read everything, and what the integration tests assert. Pure.
//!
//! - **The tree**: the lookups must hold each index `0..size` exactly once, the level-0 tiles
//!   must hold the lookups' hashes, every tile above must hold the hashes of the full tiles below,
//!   and the head's root must be the tree's.
//! - **The events**: each stored event's leaf, recomputed from its item, must be its id's latest
//!   leaf. Findings are by event id: `altered` (the content differs from the latest leaf, as a
//!   rollback to an older version does), `deleted` (a leaf but no event and no removal leaf),
//!   `inserted` (an event with no leaf, older than the seal lag, or one whose latest leaf is a
//!   removal), `foreign` (a leaf a foreign writer wrote).

use std::collections::{BTreeMap, BTreeSet};

use audit_tlog::{mth, Hash, TileSet, TILE_HEIGHT, TILE_WIDTH};
use serde::Serialize;

use super::leaf::{event_hash, LeafEntry, LeafKind, Writer};
use crate::layout::EventRecord;

/// One problem, by the event id or the log item it is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    Altered {
        id: String,
    },
    Deleted {
        id: String,
    },
    Inserted {
        id: String,
    },
    Foreign {
        id: String,
        leaf_index: u64,
    },
    /// No lookup holds this leaf index, or two do.
    LeafIndex {
        leaf_index: u64,
        problem: String,
    },
    /// A tile does not hold what the leaves below it hash to.
    Tile {
        tile: String,
    },
    /// The head's size or root is not the tree's.
    Head {
        problem: String,
    },
    /// A signed checkpoint is missing, badly signed, inconsistent or differs from its copy.
    Checkpoint {
        size: u64,
        problem: String,
    },
}

/// The tree, rebuilt from the lookups: the leaf hashes by index, and what did not hold.
pub fn check_tree(
    leaves: &[LeafEntry],
    tiles: &TileSet,
    head: Option<(u64, Hash)>,
) -> (Vec<Hash>, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut by_index: BTreeMap<u64, Vec<&LeafEntry>> = BTreeMap::new();
    for leaf in leaves {
        by_index.entry(leaf.index).or_default().push(leaf);
    }
    let size = head
        .map(|(size, _)| size)
        .unwrap_or(0)
        .max(by_index.keys().next_back().map_or(0, |i| i + 1));
    let mut hashes = Vec::with_capacity(size as usize);
    for index in 0..size {
        match by_index.get(&index).map(Vec::as_slice) {
            Some([one]) => hashes.push(one.hash),
            Some(many) => {
                findings.push(Finding::LeafIndex {
                    leaf_index: index,
                    problem: format!("{} lookups claim it", many.len()),
                });
                hashes.push(many[0].hash);
            }
            None => {
                findings.push(Finding::LeafIndex {
                    leaf_index: index,
                    problem: "no lookup holds it".to_owned(),
                });
                hashes.push(Hash::empty_tree());
            }
        }
    }
    // Each stored tile against the hashes recomputed from the leaves.
    let levels = hashes_by_tile_level(&hashes);
    for (level, level_hashes) in (0u8..).zip(&levels) {
        for (index, chunk) in level_hashes.chunks(usize::from(TILE_WIDTH)).enumerate() {
            let stored = tiles.get(level, index as u64).unwrap_or(&[]);
            if stored.len() < chunk.len() || &stored[..chunk.len()] != chunk {
                findings.push(Finding::Tile {
                    tile: format!("{level}/{index}"),
                });
            }
        }
    }
    if let Some((head_size, head_root)) = head {
        if head_size != size {
            findings.push(Finding::Head {
                problem: format!("the head says {head_size} leaves, the lookups {size}"),
            });
        } else if head_root != mth(&hashes) {
            findings.push(Finding::Head {
                problem: "the head's root is not the tree's".to_owned(),
            });
        }
    } else if size > 0 {
        findings.push(Finding::Head {
            problem: "no head, but leaves".to_owned(),
        });
    }
    (hashes, findings)
}

/// The hashes each tile level holds for a tree of these leaves: level 0 the leaves, level `L + 1`
/// the root of each full 256-wide run of level `L`.
fn hashes_by_tile_level(leaves: &[Hash]) -> Vec<Vec<Hash>> {
    let mut levels = vec![leaves.to_vec()];
    loop {
        let below = levels.last().expect("one level");
        let full: Vec<Hash> = below
            .chunks_exact(usize::from(TILE_WIDTH))
            .map(mth)
            .collect();
        if full.is_empty() {
            return levels;
        }
        levels.push(full);
        if levels.len() > usize::from(64 / TILE_HEIGHT) {
            return levels;
        }
    }
}

/// A stored event as `verify` sees it: its item, and whether it is older than the seal lag.
pub struct StoredVersion<'a> {
    pub record: &'a EventRecord,
    pub settled: bool,
}

/// Each stored event against its id's leaves (oldest first), and every foreign leaf.
pub fn check_events(events: &[StoredVersion<'_>], leaves: &[LeafEntry]) -> Vec<Finding> {
    let mut findings = BTreeSet::new();
    let mut by_id: BTreeMap<&str, Vec<&LeafEntry>> = BTreeMap::new();
    for leaf in leaves {
        by_id.entry(leaf.id.as_str()).or_default().push(leaf);
        if leaf.writer == Writer::Foreign {
            findings.insert(Finding::Foreign {
                id: leaf.id.clone(),
                leaf_index: leaf.index,
            });
        }
    }
    for versions in by_id.values_mut() {
        versions.sort_by_key(|l| l.index);
    }
    let mut present = BTreeSet::new();
    for event in events {
        let id = event.record.id.as_str();
        present.insert(id);
        let latest = by_id.get(id).and_then(|v| v.last());
        let current = event
            .record
            .clone()
            .into_event()
            .and_then(|e| event_hash(&e).ok());
        match latest {
            None
            | Some(LeafEntry {
                kind: LeafKind::Removed,
                ..
            }) => {
                if event.settled {
                    findings.insert(Finding::Inserted { id: id.to_owned() });
                }
            }
            Some(leaf) => {
                if current != Some(leaf.hash) && event.settled {
                    findings.insert(Finding::Altered { id: id.to_owned() });
                }
            }
        }
    }
    for (id, versions) in &by_id {
        let removed = versions.last().is_some_and(|l| l.kind == LeafKind::Removed);
        if !removed && !present.contains(id) {
            findings.insert(Finding::Deleted {
                id: (*id).to_owned(),
            });
        }
    }
    findings.into_iter().collect()
}
