//! The log table's items, in one place: their keys, their attributes, and what writing one costs.
//! The DynamoDB adapter and the in-memory fake both write exactly these, so the write units the
//! fake meters for a workload are the ones DynamoDB would charge.
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | head | `H#<tenant>` | `H` | `v` version, `size`, `f` frontier (binary, 32 bytes a hash), `c` claims (JSON) |
//! | tile (full or compacted) | `T#<tenant>` | `<level>#<index, 20 digits>` | `h` hashes (binary), `n` count |
//! | tile segment | `T#<tenant>` | `<level>#<index, 20 digits>#<end, 3 digits>#<start, 3 digits>` | `h` the hashes at positions `start..end` (binary) |
//! | leaf lookup | `L#<tenant>#<id>` | `<leaf index, 20 digits>` | `h` leaf hash, `k` kind, `w` writer |
//! | shard checkpoint | `SS#seal` | `<shard id>` | `s` sequence number (padded) |
//! | signed checkpoint | `CP#<tenant>` | `<size, 20 digits>` | `body`, `sig` (base64 DER) |
//! | tenant with a log | `TN` | `<tenant>` | none |
//!
//! A write costs one write unit per started KB of the item (DynamoDB's rule; attribute names count,
//! a number is about half its digits). None of the seal's writes is transactional.
//!
//! **Tiles are stored in segments while they fill.** A tile write stores the hashes it adds as a
//! segment item of its own, a blind put with no read first, so a batch that appends ten leaves to a
//! tenant pays for ten hashes (1 unit), not for rewriting every hash the open tile holds (up to 9
//! units). Some writes instead read the tile and store the whole of it so far at the tile's own
//! key ([`compacts`]): the write that fills it, so that a full tile is read with one `GetItem`,
//! and above level 0 every sixteenth position, which bounds what an open tile reads. That put
//! only ever grows the item. An open tile reads as that item (if any) joined with the segments
//! that end after it ([`segments_after`]), in position order up to the first gap ([`join`]).
//! Segments are never deleted; those a tile item covers are skipped by the read's key range.
//! Parts of one tile never disagree where they overlap (the claims that placed them fix their
//! hashes); if they do, the tile is unreadable, and `verify` names it. A tile item of fewer than
//! 256 hashes, as written before segments existed, reads as a compacted one.

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

/// The sort key of the segment of tile `level`/`index` that holds positions `start..end`: by `end`
/// first, so that a read can skip the segments that a compacted full item already covers.
pub fn segment_sk(level: u8, index: u64, start: usize, end: usize) -> String {
    format!("{}#{end:03}#{start:03}", tile_sk(level, index))
}

/// The prefix of the sort keys of a tile's segments (the full tile's key does not have it).
pub fn segment_prefix(level: u8, index: u64) -> String {
    format!("{}#", tile_sk(level, index))
}

/// The sort-key bounds (inclusive) of a tile's segments that end after position `held`: those a
/// full item of `held` hashes does not cover.
pub fn segments_after(level: u8, index: u64, held: usize) -> (String, String) {
    let prefix = segment_prefix(level, index);
    (format!("{prefix}{:03}", held + 1), format!("{prefix}999"))
}

/// Above level 0, a write that reaches a multiple of this many positions compacts the tile.
pub const COMPACT_EVERY: usize = 16;

/// Whether a write of positions `start..end` of a tile at `level` stores the whole tile so far at
/// the tile's own key (reading it first), rather than a segment of its own hashes (a blind put).
///
/// - Every write that fills the tile does, so that a full tile is one item.
/// - Above level 0, so does every write that reaches a multiple of [`COMPACT_EVERY`] positions.
///   A segment there is usually one hash (one per 256 leaves below), so an open tile reads as its
///   item and at most 15 segments, and a compaction is paid once per 4,096 events or more.
/// - At level 0 nothing else does: a segment there is one batch's leaves of one tenant, and
///   compacting would be paid per 256 events (at ten tenants a batch, about 0.06 units an event,
///   past the budget). An open level-0 tile reads as up to 255 segments: 3 with one tenant in
///   batches of 100, 26 with ten.
pub fn compacts(level: u8, start: usize, end: usize) -> bool {
    end == usize::from(TILE_WIDTH) || (level > 0 && end / COMPACT_EVERY > start / COMPACT_EVERY)
}

/// Which tile an item of the tile partition belongs to, and which positions it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TilePart {
    pub level: u8,
    pub index: u64,
    /// The first position the part holds (0 for a full tile item).
    pub start: usize,
    /// `None` for the full tile item, else the end of the segment's positions.
    pub end: Option<usize>,
}

impl TilePart {
    /// Parses a tile partition's sort key.
    pub fn of_sk(sk: &str) -> Option<Self> {
        let mut parts = sk.split('#');
        let level = parts.next()?.parse().ok()?;
        let index = parts.next()?.parse().ok()?;
        let part = match (parts.next(), parts.next(), parts.next()) {
            (None, None, None) => Self {
                level,
                index,
                start: 0,
                end: None,
            },
            (Some(end), Some(start), None) => {
                let (start, end): (usize, usize) = (start.parse().ok()?, end.parse().ok()?);
                if start >= end || end > usize::from(TILE_WIDTH) {
                    return None;
                }
                Self {
                    level,
                    index,
                    start,
                    end: Some(end),
                }
            }
            _ => return None,
        };
        Some(part)
    }
}

const TILE_WIDTH: u16 = audit_tlog::TILE_WIDTH;

/// The hashes a tile item or segment item holds, with the positions they start at.
pub fn parse_tile_part(item: &Item) -> Option<(TilePart, Vec<Hash>)> {
    let part = TilePart::of_sk(item.s("sk")?)?;
    match part.end {
        None => Some((part, parse_tile(item)?)),
        Some(end) => {
            let hashes = hashes_of(item.b("h")?)?;
            (hashes.len() == end - part.start).then_some((part, hashes))
        }
    }
}

pub fn segment_item(tenant: &Tenant, level: u8, index: u64, start: usize, hashes: &[Hash]) -> Item {
    Item::keyed(
        tile_pk(tenant),
        segment_sk(level, index, start, start + hashes.len()),
    )
    .with("h", Attr::B(concat(hashes)))
}

/// Two parts of one tile hold different hashes at the same position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("two parts of the tile hold different hashes at position {position}")]
pub struct Disagree {
    pub position: usize,
}

/// One part of a tile: the first position it holds, and its hashes from there.
pub type Part = (usize, Vec<Hash>);

/// Joins a tile's parts (each its first position and its hashes) into the hashes the tile holds:
/// in position order, up to the first position no part holds. Where parts overlap they must agree.
pub fn join(mut parts: Vec<Part>) -> Result<Vec<Hash>, Disagree> {
    parts.sort_by_key(|(start, hashes)| (*start, std::cmp::Reverse(hashes.len())));
    let mut joined: Vec<Hash> = Vec::new();
    for (start, hashes) in parts {
        if start > joined.len() {
            break;
        }
        for (offset, hash) in hashes.into_iter().enumerate() {
            let position = start + offset;
            match joined.get(position) {
                Some(held) if *held != hash => return Err(Disagree { position }),
                Some(_) => {}
                None => joined.push(hash),
            }
        }
    }
    Ok(joined)
}

/// Tiles joined from the items of a tile partition (see [`tiles_of`]).
#[derive(Debug, Default)]
pub struct Tiles {
    /// Each tile's hashes, by (level, index).
    pub joined: BTreeMap<(u8, u64), Vec<Hash>>,
    /// The sort keys of items that do not parse, and `<level>/<index>` of tiles whose parts
    /// disagree or do not fit a tile.
    pub unreadable: Vec<String>,
}

impl Tiles {
    /// The tiles as a [`audit_tlog::TileSet`], with the keys of those that are unreadable or do
    /// not fit a tile.
    pub fn into_set(self) -> (audit_tlog::TileSet, Vec<String>) {
        let mut set = audit_tlog::TileSet::new();
        let mut unreadable = self.unreadable;
        for ((level, index), hashes) in self.joined {
            if set.insert(level, index, hashes).is_err() {
                unreadable.push(format!("{level}/{index}"));
            }
        }
        (set, unreadable)
    }
}

/// Joins every tile of a tenant from the items of its tile partition, in any order: full tiles
/// and segments alike, as a tile read joins one tile's.
pub fn tiles_of<'a>(found: impl IntoIterator<Item = &'a Item>) -> Tiles {
    let mut parts: BTreeMap<(u8, u64), Vec<Part>> = BTreeMap::new();
    let mut tiles = Tiles::default();
    for item in found {
        match parse_tile_part(item) {
            Some((part, hashes)) => parts
                .entry((part.level, part.index))
                .or_default()
                .push((part.start, hashes)),
            None => tiles
                .unreadable
                .push(item.s("sk").unwrap_or_default().to_owned()),
        }
    }
    for ((level, index), parts) in parts {
        match join(parts) {
            Ok(hashes) => {
                tiles.joined.insert((level, index), hashes);
            }
            Err(_) => tiles.unreadable.push(format!("{level}/{index}")),
        }
    }
    tiles
}

/// The whole tile, if `full` (the item at the tile's own key) holds all 256 hashes; a read then
/// needs no segments.
pub fn whole_tile(full: Option<&Item>) -> Option<Vec<Hash>> {
    full.and_then(parse_tile)
        .filter(|hashes| hashes.len() == usize::from(TILE_WIDTH))
}

/// A tile's hashes from its full item (if any) and its segments (see the module docs).
pub fn join_tile(
    level: u8,
    index: u64,
    full: Option<&Item>,
    segments: &[Item],
) -> Result<Vec<Hash>, String> {
    let unreadable = |why: String| format!("tile {level}/{index} of the log table: {why}");
    let mut parts = Vec::with_capacity(segments.len() + 1);
    if let Some(item) = full {
        parts.push((
            0,
            parse_tile(item)
                .ok_or_else(|| unreadable("the full item does not parse".to_owned()))?,
        ));
    }
    for item in segments {
        let (part, hashes) = parse_tile_part(item)
            .filter(|(part, _)| part.level == level && part.index == index)
            .ok_or_else(|| {
                unreadable(format!(
                    "segment {:?} does not parse",
                    item.s("sk").unwrap_or_default()
                ))
            })?;
        parts.push((part.start, hashes));
    }
    join(parts).map_err(|e| unreadable(e.to_string()))
}

/// Counts tile reads: requests made and items they returned. Shared by the adapter and the fake.
#[derive(Debug, Default)]
pub struct ReadMeter {
    requests: AtomicU64,
    items: AtomicU64,
}

impl ReadMeter {
    pub fn record(&self, items: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(items as u64, Ordering::Relaxed);
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn items(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }
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

    fn hashes(from: u32, n: u32) -> Vec<Hash> {
        (from..from + n)
            .map(|i| audit_tlog::leaf_hash(&i.to_be_bytes()))
            .collect()
    }

    #[test]
    fn segments_join_in_order_up_to_the_first_gap_and_overlaps_must_agree() {
        let all = hashes(0, 30);
        let parts = vec![
            (20, all[20..30].to_vec()),
            (0, all[0..10].to_vec()),
            (10, all[10..20].to_vec()),
        ];
        assert_eq!(join(parts), Ok(all.clone()));
        // A repeated, longer or shorter write of the same positions joins the same.
        let parts = vec![
            (0, all[0..10].to_vec()),
            (5, all[5..25].to_vec()),
            (5, all[5..8].to_vec()),
        ];
        assert_eq!(join(parts), Ok(all[..25].to_vec()));
        // Positions after a gap are not the tile's (yet).
        let parts = vec![(0, all[0..10].to_vec()), (11, all[11..20].to_vec())];
        assert_eq!(join(parts), Ok(all[..10].to_vec()));
        assert_eq!(join(vec![(3, all[3..5].to_vec())]), Ok(Vec::new()));
        // Two parts that disagree make the tile unreadable, at the position where they do.
        let mut other = all[5..15].to_vec();
        other[4] = Hash::empty_tree();
        assert_eq!(
            join(vec![(0, all[0..10].to_vec()), (5, other)]),
            Err(Disagree { position: 9 })
        );
    }

    #[test]
    fn tiles_of_joins_each_tiles_parts_and_names_the_parts_that_do_not_join() {
        let tenant = Tenant::default();
        let all = hashes(0, 256);
        let mut found = vec![
            segment_item(&tenant, 0, 0, 0, &all[..100]),
            segment_item(&tenant, 0, 0, 100, &all[100..256]),
            tile_item(&tenant, 0, 0, &all),
            // A tile written whole before segments existed, then continued in a segment.
            tile_item(&tenant, 0, 1, &all[..7]),
            segment_item(&tenant, 0, 1, 7, &all[7..9]),
            segment_item(&tenant, 1, 0, 0, &all[..1]),
        ];
        let tiles = tiles_of(&found);
        assert_eq!(tiles.unreadable, Vec::<String>::new());
        assert_eq!(tiles.joined[&(0, 0)], all);
        assert_eq!(tiles.joined[&(0, 1)], all[..9].to_vec());
        assert_eq!(tiles.joined[&(1, 0)], all[..1].to_vec());

        let mut bad = segment_item(&tenant, 0, 1, 8, &all[..1]);
        found.push(bad.clone());
        bad.0.insert("sk".to_owned(), Attr::S("0#x".to_owned()));
        found.push(bad);
        let tiles = tiles_of(&found);
        assert_eq!(tiles.unreadable, vec!["0#x".to_owned(), "0/1".to_owned()]);
        assert!(!tiles.joined.contains_key(&(0, 1)));
    }

    #[test]
    fn writes_compact_when_they_fill_a_tile_and_every_sixteen_positions_above_level_0() {
        assert!(!compacts(0, 0, 100));
        assert!(!compacts(0, 100, 255));
        assert!(compacts(0, 200, 256));
        assert!(compacts(0, 255, 256));
        assert!(!compacts(1, 0, 1));
        assert!(!compacts(1, 14, 15));
        assert!(compacts(1, 15, 16));
        assert!(compacts(2, 14, 17), "a write that passes a multiple");
        assert!(!compacts(1, 16, 17));
        assert!(compacts(1, 255, 256));
        let tenant = Tenant::default();
        let all = hashes(0, 20);
        let segment = segment_item(&tenant, 0, 4, 10, &all[10..20]);
        assert_eq!(segment.write_units(), 1);
        let part_of = |item: &Item| TilePart::of_sk(item.s("sk").unwrap()).unwrap();
        assert_eq!(part_of(&segment).end, Some(20));
        assert_eq!(part_of(&tile_item(&tenant, 0, 4, &all)).end, None);
        assert_eq!(whole_tile(Some(&tile_item(&tenant, 0, 4, &all))), None);
    }

    #[test]
    fn a_read_past_a_compacted_item_takes_every_segment_that_ends_after_it() {
        let (low, high) = segments_after(0, 2, 160);
        let inside = |start: usize, end: usize| {
            let sk = segment_sk(0, 2, start, end);
            low <= sk && sk <= high
        };
        assert!(!inside(150, 160), "covered by the full item");
        assert!(
            inside(150, 170),
            "overlaps it: a write that read before the compaction"
        );
        assert!(inside(160, 161));
        assert!(inside(200, 256));
        assert!(!segment_sk(0, 3, 0, 10).starts_with(&segment_prefix(0, 2)));
        assert_eq!(
            TilePart::of_sk(&segment_sk(0, 2, 150, 170)).unwrap(),
            TilePart {
                level: 0,
                index: 2,
                start: 150,
                end: Some(170)
            }
        );
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
