//! A tenant's log head: the tree's right edge, a version that every write of the head moves (the
//! condition of the next one), and one claim per stream shard.
//!
//! **Claims.** Sealing a batch writes the head first, with one conditional write that both appends
//! the tenant's new leaves to the frontier and records, for the batch's shard, *which* records took
//! the new indexes: those of the tenant with a sequence number in `(after, last]`, in stream order,
//! from index `frontier.size()`. The id→leaf lookups and the tiles are written after it, and are
//! determined by the claim and the records alone, so writing them again is harmless. The shard's
//! checkpoint moves last.
//!
//! - **Crash or redelivery** before the checkpoint moved: the same records come again from the
//!   checkpoint on. [`split`] sorts them into those already placed by an earlier claim (skipped),
//!   those of the open claim (their lookups and tiles are written again, from the claim's frontier),
//!   and the fresh ones, which only then get a new claim.
//! - **Two shards on one tenant**: both read version `v`, one head write wins; the other re-reads
//!   the head and claims the indexes after the winner's. Indexes are never given twice, and the
//!   loser wrote nothing before its claim.
//! - **A bisected batch** that ends inside a claim moves the claim's `after` to its last record
//!   (and its frontier past the leaves written), so that the next batch finds the rest.

use std::collections::BTreeMap;

use audit_tlog::{Frontier, Hash};

use crate::counters::SequenceNumber;

use super::leaf::Leaf;

/// How long a claim is kept after its last use. A stream keeps records for 24 hours, so no
/// redelivery can need a claim older than that; closed shards' claims then drop out of the head.
pub const CLAIM_RETENTION_SECONDS: i64 = 2 * 24 * 3600;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// Moved by every write of the head; `0` for a head not yet stored.
    pub version: u64,
    pub frontier: Frontier,
    /// By shard id.
    pub claims: BTreeMap<String, Claim>,
}

/// What a shard's latest append placed, see the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Records at or before this were placed earlier (or are before the shard's checkpoint).
    pub after: Option<SequenceNumber>,
    /// The claim's last record.
    pub last: SequenceNumber,
    /// The tree just before the claim's first leaf; its size is that leaf's index.
    pub frontier: Frontier,
    /// Unix seconds of the claim's last write, for [`CLAIM_RETENTION_SECONDS`].
    pub at: i64,
}

/// One leaf of a batch, with the stream record it came from.
pub type Placed = (SequenceNumber, Leaf);

/// A tenant's leaves of one batch, sorted by what is to be done with them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Leaves of the shard's open claim (which this batch may hold only the start of): write their
    /// lookups and tiles again from `claim.frontier`.
    pub redo: Vec<Placed>,
    /// Leaves not yet in the log: to be claimed.
    pub fresh: Vec<Placed>,
    /// Leaves placed by an earlier claim whose lookups and tiles were complete before it.
    pub skipped: usize,
}

/// Sorts one tenant's leaves of a batch (in stream order, all after the shard's checkpoint) by the
/// shard's claim in the head.
pub fn split(claim: Option<&Claim>, leaves: Vec<Placed>) -> Split {
    let mut split = Split::default();
    for placed in leaves {
        match claim {
            Some(claim) if claim.after.as_ref().is_some_and(|after| &placed.0 <= after) => {
                split.skipped += 1
            }
            Some(claim) if placed.0 <= claim.last => split.redo.push(placed),
            _ => split.fresh.push(placed),
        }
    }
    split
}

impl Head {
    pub fn size(&self) -> u64 {
        self.frontier.size().get()
    }

    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The head after claiming `fresh` for `shard`: its frontier moved past them and the claim
    /// recorded. `after` is the record before the claim's first (see [`Claim::after`]).
    pub fn claimed(
        &self,
        shard: &str,
        after: Option<SequenceNumber>,
        fresh: &[Placed],
        now: i64,
    ) -> Result<(Head, audit_tlog::Appended), audit_tlog::AppendError> {
        let hashes: Vec<Hash> = fresh.iter().map(|(_, leaf)| leaf.hash).collect();
        let appended = self.frontier.append(&hashes)?;
        let last = fresh
            .last()
            .expect("a claim of at least one leaf")
            .0
            .clone();
        let mut next = self.clone();
        next.version += 1;
        next.frontier = appended.frontier.clone();
        next.claims
            .retain(|_, c| c.at >= now - CLAIM_RETENTION_SECONDS);
        next.claims.insert(
            shard.to_owned(),
            Claim {
                after,
                last,
                frontier: self.frontier.clone(),
                at: now,
            },
        );
        Ok((next, appended))
    }

    /// The head with `shard`'s claim moved past the first `written` of its leaves, the last of
    /// which is the record `through`, so that the next batch finds the rest (a bisected batch).
    pub fn advanced(&self, shard: &str, through: SequenceNumber, frontier: Frontier) -> Head {
        let mut next = self.clone();
        next.version += 1;
        if let Some(claim) = next.claims.get_mut(shard) {
            claim.after = Some(through);
            claim.frontier = frontier;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::leaf::{LeafKind, Writer};
    use crate::Tenant;

    fn seq(n: u64) -> SequenceNumber {
        SequenceNumber::parse(&n.to_string()).unwrap()
    }

    fn placed(n: u64) -> Placed {
        let leaf = Leaf {
            tenant: Tenant::default(),
            id: format!("id{n}"),
            kind: LeafKind::Event,
            writer: Writer::Service,
            hash: audit_tlog::leaf_hash(&n.to_be_bytes()),
        };
        (seq(n), leaf)
    }

    fn claim(after: Option<u64>, last: u64) -> Claim {
        Claim {
            after: after.map(seq),
            last: seq(last),
            frontier: Frontier::empty(),
            at: 0,
        }
    }

    fn seqs(placed: &[Placed]) -> Vec<String> {
        placed.iter().map(|(s, _)| s.to_string()).collect()
    }

    #[test]
    fn without_a_claim_every_leaf_is_fresh() {
        let split = split(None, (1..4).map(placed).collect());
        assert_eq!(seqs(&split.fresh), ["1", "2", "3"]);
        assert!(split.redo.is_empty());
    }

    #[test]
    fn a_claim_sorts_leaves_into_skipped_redo_and_fresh() {
        let split = split(Some(&claim(Some(2), 4)), (1..7).map(placed).collect());
        assert_eq!(split.skipped, 2);
        assert_eq!(seqs(&split.redo), ["3", "4"]);
        assert_eq!(seqs(&split.fresh), ["5", "6"]);
        // A first claim has no `after`.
        let first = super::split(Some(&claim(None, 2)), (1..4).map(placed).collect());
        assert_eq!(
            (first.skipped, seqs(&first.redo), seqs(&first.fresh)),
            (0, vec!["1".into(), "2".into()], vec!["3".to_string()])
        );
    }

    #[test]
    fn a_claim_records_the_frontier_before_it_and_moves_the_version() {
        let head = Head::default();
        let fresh: Vec<Placed> = (1..4).map(placed).collect();
        let (next, appended) = head.claimed("s1", None, &fresh, 100).unwrap();
        assert_eq!(next.version, 1);
        assert_eq!(next.size(), 3);
        assert_eq!(next.root(), appended.root);
        let claim = &next.claims["s1"];
        assert_eq!(
            (claim.frontier.size().get(), claim.last.to_string()),
            (0, "3".to_owned())
        );
        // A second claim starts where the first ended.
        let more: Vec<Placed> = (4..6).map(placed).collect();
        let (after, _) = next.claimed("s2", None, &more, 100).unwrap();
        assert_eq!(after.claims["s2"].frontier.size().get(), 3);
        assert_eq!(after.size(), 5);
        assert_eq!(after.claims.len(), 2);
    }

    #[test]
    fn old_claims_drop_out() {
        let (head, _) = Head::default()
            .claimed("old", None, &[placed(1)], 0)
            .unwrap();
        let (head, _) = head
            .claimed("new", None, &[placed(2)], CLAIM_RETENTION_SECONDS + 1)
            .unwrap();
        assert_eq!(head.claims.keys().collect::<Vec<_>>(), ["new"]);
    }

    #[test]
    fn advancing_a_claim_moves_after_and_its_frontier() {
        let fresh: Vec<Placed> = (1..5).map(placed).collect();
        let (head, _) = Head::default().claimed("s", None, &fresh, 0).unwrap();
        let part = Frontier::empty()
            .append(&[fresh[0].1.hash, fresh[1].1.hash])
            .unwrap()
            .frontier;
        let moved = head.advanced("s", seq(2), part.clone());
        assert_eq!(moved.version, head.version + 1);
        assert_eq!(moved.claims["s"].after, Some(seq(2)));
        assert_eq!(moved.claims["s"].frontier, part);
        let rest = split(Some(&moved.claims["s"]), (1..6).map(placed).collect());
        assert_eq!(
            (rest.skipped, seqs(&rest.redo), seqs(&rest.fresh)),
            (2, vec!["3".into(), "4".into()], vec!["5".to_string()])
        );
    }
}
