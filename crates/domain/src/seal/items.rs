//! The log table's items, in one place: their keys, their attributes, and what writing one costs.
//! The DynamoDB adapter and the in-memory fake both write exactly these, so the write units the
//! fake meters for a workload are the ones DynamoDB would charge.
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | head | `H#<tenant>` | `H` | `v` version, `size`, `f` frontier (binary, 32 bytes a hash), `c` claims (JSON) |
//! | tile | `T#<tenant>` | `<level>#<index, 20 digits>` | `h` hashes (binary), `n` count |
//! | leaf lookup | `L#<tenant>#<id>` | `<leaf index, 20 digits>` | `h` leaf hash, `k` kind, `w` writer |
//! | shard checkpoint | `SS#seal` | `<shard id>` | `s` sequence number (padded) |
//! | signed checkpoint | `CP#<tenant>` | `<size, 20 digits>` | `body`, `sig` (base64 DER) |
//! | tenant with a log | `TN` | `<tenant>` | none |
//!
//! A write costs one write unit per started KB of the item (DynamoDB's rule; attribute names count,
//! a number is about half its digits). None of the seal's writes is transactional.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use audit_tlog::{Frontier, Hash, TreeSize};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::head::{Claim, Head};
use super::leaf::{LeafEntry, LeafKind, Writer};
use crate::counters::{SequenceNumber, ShardId};
use crate::event::Tenant;

pub const HEAD_SK: &str = "H";
pub const SHARD_CHECKPOINT_PK: &str = "SS#seal";
/// The partition listing every tenant with a log (one item per tenant, written with its first head).
pub const TENANTS_PK: &str = "TN";

pub fn tenant_item(tenant: &Tenant) -> Item {
    Item::keyed(TENANTS_PK.to_owned(), tenant.as_str().to_owned())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attr {
    S(String),
    N(String),
    B(Vec<u8>),
}

/// One item, attributes by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item(pub BTreeMap<String, Attr>);

impl Item {
    fn with(mut self, name: &str, value: Attr) -> Self {
        self.0.insert(name.to_owned(), value);
        self
    }

    fn keyed(pk: String, sk: String) -> Self {
        Self::default()
            .with("pk", Attr::S(pk))
            .with("sk", Attr::S(sk))
    }

    pub fn s(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(Attr::S(s)) => Some(s),
            _ => None,
        }
    }

    pub fn n(&self, name: &str) -> Option<u64> {
        match self.0.get(name) {
            Some(Attr::N(n)) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn b(&self, name: &str) -> Option<&[u8]> {
        match self.0.get(name) {
            Some(Attr::B(b)) => Some(b),
            _ => None,
        }
    }

    /// DynamoDB's size of the item in bytes.
    pub fn size(&self) -> usize {
        self.0
            .iter()
            .map(|(name, value)| {
                name.len()
                    + match value {
                        Attr::S(s) => s.len(),
                        Attr::B(b) => b.len(),
                        Attr::N(n) => n.trim_start_matches('0').len().max(1).div_ceil(2) + 1,
                    }
            })
            .sum()
    }

    /// Write units of one (non-transactional) write of the item.
    pub fn write_units(&self) -> u64 {
        (self.size() as u64).div_ceil(1024).max(1)
    }
}

/// Counts the writes made and the write units they cost. Shared by the adapter and the fake.
#[derive(Debug, Default)]
pub struct WriteMeter {
    writes: AtomicU64,
    units: AtomicU64,
}

impl WriteMeter {
    pub fn record(&self, item: &Item) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.units.fetch_add(item.write_units(), Ordering::Relaxed);
    }

    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub fn units(&self) -> u64 {
        self.units.load(Ordering::Relaxed)
    }
}

fn padded(n: u64) -> String {
    format!("{n:020}")
}

pub fn head_key(tenant: &Tenant) -> (String, String) {
    (format!("H#{}", tenant.as_str()), HEAD_SK.to_owned())
}

pub fn tile_pk(tenant: &Tenant) -> String {
    format!("T#{}", tenant.as_str())
}

pub fn tile_sk(level: u8, index: u64) -> String {
    format!("{level}#{}", padded(index))
}

pub fn lookup_pk(tenant: &Tenant, id: &str) -> String {
    format!("L#{}#{id}", tenant.as_str())
}

/// The prefix of every lookup of a tenant, for `verify`'s scan.
pub fn lookup_prefix(tenant: &Tenant) -> String {
    format!("L#{}#", tenant.as_str())
}

pub fn checkpoint_key(shard: &ShardId) -> (String, String) {
    (SHARD_CHECKPOINT_PK.to_owned(), shard.as_str().to_owned())
}

pub fn signed_pk(tenant: &Tenant) -> String {
    format!("CP#{}", tenant.as_str())
}

pub fn signed_sk(size: u64) -> String {
    padded(size)
}

fn concat(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.as_bytes().to_vec()).collect()
}

pub fn hashes_of(bytes: &[u8]) -> Option<Vec<Hash>> {
    if !bytes.len().is_multiple_of(32) {
        return None;
    }
    bytes
        .chunks_exact(32)
        .map(|c| Hash::try_from(c).ok())
        .collect()
}

pub fn tile_item(tenant: &Tenant, level: u8, index: u64, hashes: &[Hash]) -> Item {
    Item::keyed(tile_pk(tenant), tile_sk(level, index))
        .with("h", Attr::B(concat(hashes)))
        .with("n", Attr::N(hashes.len().to_string()))
}

pub fn parse_tile(item: &Item) -> Option<Vec<Hash>> {
    let hashes = hashes_of(item.b("h")?)?;
    (item.n("n")? as usize == hashes.len()).then_some(hashes)
}

pub fn lookup_item(tenant: &Tenant, entry: &LeafEntry) -> Item {
    Item::keyed(lookup_pk(tenant, &entry.id), padded(entry.index))
        .with("h", Attr::B(entry.hash.as_bytes().to_vec()))
        .with("k", Attr::S(entry.kind.as_str().to_owned()))
        .with("w", Attr::S(entry.writer.as_str().to_owned()))
}

/// A lookup item as a leaf entry; `None` if it is not one.
pub fn parse_lookup(item: &Item) -> Option<LeafEntry> {
    let pk = item.s("pk")?.strip_prefix("L#")?;
    let (_, id) = pk.split_once('#')?;
    Some(LeafEntry {
        index: item.s("sk")?.parse().ok()?,
        id: id.to_owned(),
        kind: LeafKind::parse(item.s("k")?)?,
        writer: Writer::parse(item.s("w")?)?,
        hash: Hash::try_from(item.b("h")?).ok()?,
    })
}

pub fn checkpoint_item(shard: &ShardId, sequence: &SequenceNumber) -> Item {
    let (pk, sk) = checkpoint_key(shard);
    Item::keyed(pk, sk).with("s", Attr::S(sequence.padded().to_owned()))
}

#[derive(Serialize, Deserialize)]
struct StoredClaim {
    after: Option<String>,
    last: String,
    size: u64,
    frontier: Vec<String>,
    at: i64,
}

pub fn head_item(tenant: &Tenant, head: &Head) -> Item {
    let claims: BTreeMap<&str, StoredClaim> = head
        .claims
        .iter()
        .map(|(shard, c)| {
            let stored = StoredClaim {
                after: c.after.as_ref().map(|s| s.unpadded().to_owned()),
                last: c.last.unpadded().to_owned(),
                size: c.frontier.size().get(),
                frontier: c.frontier.hashes().iter().map(Hash::to_base64).collect(),
                at: c.at,
            };
            (shard.as_str(), stored)
        })
        .collect();
    let (pk, sk) = head_key(tenant);
    Item::keyed(pk, sk)
        .with("v", Attr::N(head.version.to_string()))
        .with("size", Attr::N(head.size().to_string()))
        .with("f", Attr::B(concat(head.frontier.hashes())))
        .with(
            "c",
            Attr::S(serde_json::to_string(&claims).expect("claims serialise")),
        )
}

pub fn parse_head(item: &Item) -> Option<Head> {
    let frontier = Frontier::new(TreeSize::new(item.n("size")?), hashes_of(item.b("f")?)?).ok()?;
    let stored: BTreeMap<String, StoredClaim> = serde_json::from_str(item.s("c")?).ok()?;
    let mut claims = BTreeMap::new();
    for (shard, c) in stored {
        let hashes = c
            .frontier
            .iter()
            .map(|h| Hash::from_base64(h).ok())
            .collect::<Option<Vec<_>>>()?;
        let claim = Claim {
            after: match c.after {
                Some(s) => Some(SequenceNumber::parse(&s)?),
                None => None,
            },
            last: SequenceNumber::parse(&c.last)?,
            frontier: Frontier::new(TreeSize::new(c.size), hashes).ok()?,
            at: c.at,
        };
        claims.insert(shard, claim);
    }
    Some(Head {
        version: item.n("v")?,
        frontier,
        claims,
    })
}

/// A signed checkpoint as stored: its body and base64 DER signature.
pub fn signed_item(tenant: &Tenant, size: u64, signed: &super::Signed) -> Item {
    Item::keyed(signed_pk(tenant), signed_sk(size))
        .with("body", Attr::S(signed.body.clone()))
        .with("sig", Attr::S(STANDARD.encode(&signed.signature)))
}

pub fn parse_signed(item: &Item) -> Option<super::Signed> {
    Some(super::Signed {
        body: item.s("body")?.to_owned(),
        signature: STANDARD.decode(item.s("sig")?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::head::Placed;
    use crate::seal::leaf::Leaf;

    #[test]
    fn heads_and_lookups_read_back_as_written() {
        let tenant = Tenant::default();
        let placed: Vec<Placed> = (0..5u64)
            .map(|n| {
                let leaf = Leaf {
                    tenant: tenant.clone(),
                    id: format!("id{n}"),
                    kind: LeafKind::Event,
                    writer: Writer::Service,
                    hash: audit_tlog::leaf_hash(&n.to_be_bytes()),
                };
                (SequenceNumber::parse(&(n + 10).to_string()).unwrap(), leaf)
            })
            .collect();
        let (head, _) = Head::default()
            .claimed("shard-1", None, &placed[..3], 7)
            .unwrap();
        let (head, _) = head
            .claimed("shard-1", Some(placed[2].0.clone()), &placed[3..], 8)
            .unwrap();
        assert_eq!(parse_head(&head_item(&tenant, &head)), Some(head.clone()));
        let entry = LeafEntry {
            index: 42,
            id: "01M8N395JPG0FQ815FX6Z4NTVH".to_owned(),
            kind: LeafKind::Removed,
            writer: Writer::Foreign,
            hash: audit_tlog::leaf_hash(b"x"),
        };
        assert_eq!(parse_lookup(&lookup_item(&tenant, &entry)), Some(entry));
        let hashes = vec![audit_tlog::leaf_hash(b"a"); 3];
        assert_eq!(parse_tile(&tile_item(&tenant, 1, 2, &hashes)), Some(hashes));
    }

    #[test]
    fn a_full_tile_costs_nine_units_and_a_lookup_one() {
        let tenant = Tenant::default();
        let full = tile_item(&tenant, 0, 3, &vec![Hash::empty_tree(); 256]);
        assert_eq!(full.write_units(), 9);
        let half = tile_item(&tenant, 0, 3, &vec![Hash::empty_tree(); 100]);
        assert_eq!(half.write_units(), 4);
        let entry = LeafEntry {
            index: 1 << 40,
            id: "01M8N395JPG0FQ815FX6Z4NTVH".to_owned(),
            kind: LeafKind::Event,
            writer: Writer::Service,
            hash: Hash::empty_tree(),
        };
        assert_eq!(lookup_item(&tenant, &entry).write_units(), 1);
    }
}

/// What a tile write does to the hashes a tile holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Splice {
    /// Store these (the held prefix, then the write's hashes).
    Store(Vec<Hash>),
    /// The tile already holds the write's hashes.
    Held,
    /// The tile holds fewer hashes than the write starts at.
    Gap,
    /// The tile holds other hashes where the write's go: it was rewritten, or a bug.
    Conflict,
}

pub fn splice(held: &[Hash], write: &audit_tlog::TileWrite) -> Splice {
    let start = usize::from(write.start());
    let end = start + write.hashes().len();
    if held.len() < start {
        return Splice::Gap;
    }
    let overlap = &held[start..held.len().min(end)];
    if overlap != &write.hashes()[..overlap.len()] {
        return Splice::Conflict;
    }
    if held.len() >= end {
        return Splice::Held;
    }
    let mut hashes = held[..start].to_vec();
    hashes.extend_from_slice(write.hashes());
    hashes.extend_from_slice(&held[end.min(held.len())..]);
    Splice::Store(hashes)
}
