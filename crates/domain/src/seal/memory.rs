//! The log store in memory, for handler tests: the same items as the DynamoDB adapter
//! (`items`), the same conditions, metered the same way, and a switch to fail chosen operations.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use audit_tlog::{Hash, TileWrite};

use super::head::Head;
use super::items::{self, Item, ReadMeter, Splice, WriteMeter};
use super::leaf::LeafEntry;
use super::port::{Archive, CheckpointStore, LogStore, Signed, Signer, Swap, TileOutcome};
use crate::counters::{SequenceNumber, ShardId};
use crate::event::Tenant;
use crate::ports::StoreError;

#[derive(Debug, Default)]
pub struct MemoryLog {
    items: Mutex<BTreeMap<(String, String), Item>>,
    /// Operation name → how many more calls of it succeed before each one fails.
    faults: Mutex<HashMap<&'static str, usize>>,
    pub meter: WriteMeter,
    /// Tile reads: requests and the items they returned.
    pub reads: ReadMeter,
}

impl MemoryLog {
    /// Makes calls of `operation` (a port method's name) fail once `after` more have succeeded.
    pub fn fail(&self, operation: &'static str, after: usize) {
        self.faults.lock().unwrap().insert(operation, after);
    }

    pub fn heal(&self) {
        self.faults.lock().unwrap().clear();
    }

    fn check(&self, operation: &'static str) -> Result<(), StoreError> {
        let mut faults = self.faults.lock().unwrap();
        match faults.get_mut(operation) {
            Some(0) => Err(StoreError::unavailable(operation, "injected fault")),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn get(&self, pk: &str, sk: &str) -> Option<Item> {
        self.items
            .lock()
            .unwrap()
            .get(&(pk.to_owned(), sk.to_owned()))
            .cloned()
    }

    fn put(&self, item: Item) {
        self.meter.record(&item);
        let key = (
            item.s("pk").unwrap().to_owned(),
            item.s("sk").unwrap().to_owned(),
        );
        self.items.lock().unwrap().insert(key, item);
    }

    /// Every item, for tests that tamper or compare.
    pub fn items(&self) -> Vec<Item> {
        self.items.lock().unwrap().values().cloned().collect()
    }

    /// Every lookup of a tenant, by leaf index.
    pub fn all_leaves(&self, tenant: &Tenant) -> Vec<LeafEntry> {
        let prefix = items::lookup_prefix(tenant);
        let mut leaves: Vec<LeafEntry> = self
            .items()
            .iter()
            .filter(|i| i.s("pk").is_some_and(|pk| pk.starts_with(&prefix)))
            .filter_map(items::parse_lookup)
            .collect();
        leaves.sort_by_key(|l| l.index);
        leaves
    }
}

impl LogStore for MemoryLog {
    async fn checkpoint(&self, shard: &ShardId) -> Result<Option<SequenceNumber>, StoreError> {
        self.check("checkpoint")?;
        let (pk, sk) = items::checkpoint_key(shard);
        Ok(self
            .get(&pk, &sk)
            .and_then(|i| i.s("s").and_then(SequenceNumber::parse)))
    }

    async fn set_checkpoint(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        next: &SequenceNumber,
    ) -> Result<Swap, StoreError> {
        self.check("set_checkpoint")?;
        if self.checkpoint(shard).await?.as_ref() != expected {
            return Ok(Swap::Moved);
        }
        self.put(items::checkpoint_item(shard, next));
        Ok(Swap::Done)
    }

    async fn head(&self, tenant: &Tenant) -> Result<Option<Head>, StoreError> {
        self.check("head")?;
        let (pk, sk) = items::head_key(tenant);
        match self.get(&pk, &sk) {
            None => Ok(None),
            Some(item) => items::parse_head(&item)
                .map(Some)
                .ok_or_else(|| StoreError::rejected("reading a log head", "unreadable head")),
        }
    }

    async fn put_head(
        &self,
        tenant: &Tenant,
        expected: u64,
        head: &Head,
    ) -> Result<Swap, StoreError> {
        self.check("put_head")?;
        let (pk, sk) = items::head_key(tenant);
        let stored = self.get(&pk, &sk).and_then(|i| i.n("v")).unwrap_or(0);
        if stored != expected {
            return Ok(Swap::Moved);
        }
        if expected == 0 {
            self.put(items::tenant_item(tenant));
        }
        self.put(items::head_item(tenant, head));
        Ok(Swap::Done)
    }

    async fn put_leaves(&self, tenant: &Tenant, entries: &[LeafEntry]) -> Result<(), StoreError> {
        self.check("put_leaves")?;
        for entry in entries {
            self.put(items::lookup_item(tenant, entry));
        }
        Ok(())
    }

    async fn write_tile(
        &self,
        tenant: &Tenant,
        write: &TileWrite,
    ) -> Result<TileOutcome, StoreError> {
        self.check("write_tile")?;
        let tile = write.tile();
        let (level, index) = (tile.level(), tile.index());
        let start = usize::from(write.start());
        if !items::compacts(level, start, start + write.hashes().len()) {
            self.put(items::segment_item(
                tenant,
                level,
                index,
                start,
                write.hashes(),
            ));
            return Ok(TileOutcome::Written);
        }
        let held = self.tile(tenant, level, index).await?;
        match items::splice(&held, write) {
            Splice::Held => Ok(TileOutcome::Written),
            Splice::Gap => Ok(TileOutcome::Gap),
            Splice::Conflict => Err(StoreError::rejected(
                "writing a tile",
                format!("tile {} holds other hashes", tile.path()),
            )),
            Splice::Store(hashes) => {
                // The tile's own key only grows, as the adapter's condition keeps it.
                let stored = self
                    .get(&items::tile_pk(tenant), &items::tile_sk(level, index))
                    .and_then(|i| i.n("n"))
                    .unwrap_or(0);
                if hashes.len() as u64 > stored {
                    self.put(items::tile_item(tenant, level, index, &hashes));
                }
                Ok(TileOutcome::Written)
            }
        }
    }

    async fn tile(&self, tenant: &Tenant, level: u8, index: u64) -> Result<Vec<Hash>, StoreError> {
        let pk = items::tile_pk(tenant);
        let full = self.get(&pk, &items::tile_sk(level, index));
        self.reads.record(usize::from(full.is_some()));
        if let Some(hashes) = items::whole_tile(full.as_ref()) {
            return Ok(hashes);
        }
        let held = full.as_ref().and_then(|i| i.n("n")).unwrap_or(0) as usize;
        // A key range, as the adapter's Query.
        let (low, high) = items::segments_after(level, index, held);
        let segments: Vec<Item> = self
            .items
            .lock()
            .unwrap()
            .range((pk.clone(), low)..=(pk.clone(), high))
            .map(|(_, item)| item.clone())
            .collect();
        self.reads.record(segments.len());
        items::join_tile(level, index, full.as_ref(), &segments)
            .map_err(|why| StoreError::rejected("reading a tile", why))
    }

    async fn leaves_of(&self, tenant: &Tenant, id: &str) -> Result<Vec<LeafEntry>, StoreError> {
        let pk = items::lookup_pk(tenant, id);
        let mut leaves: Vec<LeafEntry> = self
            .items()
            .iter()
            .filter(|i| i.s("pk") == Some(pk.as_str()))
            .filter_map(items::parse_lookup)
            .collect();
        leaves.sort_by_key(|l| l.index);
        Ok(leaves)
    }
}

impl CheckpointStore for MemoryLog {
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        Ok(self
            .items()
            .iter()
            .filter(|i| i.s("pk") == Some(items::TENANTS_PK))
            .filter_map(|i| Tenant::parse(i.s("sk")?).ok())
            .collect())
    }

    async fn latest_signed(&self, tenant: &Tenant) -> Result<Option<Signed>, StoreError> {
        let pk = items::signed_pk(tenant);
        Ok(self
            .items()
            .iter()
            .rfind(|i| i.s("pk") == Some(pk.as_str()))
            .and_then(items::parse_signed))
    }

    async fn signed(&self, tenant: &Tenant, size: u64) -> Result<Option<Signed>, StoreError> {
        Ok(self
            .get(&items::signed_pk(tenant), &items::signed_sk(size))
            .and_then(|i| items::parse_signed(&i)))
    }

    async fn put_signed(
        &self,
        tenant: &Tenant,
        size: u64,
        signed: &Signed,
    ) -> Result<(), StoreError> {
        self.check("put_signed")?;
        self.put(items::signed_item(tenant, size, signed));
        Ok(())
    }
}

/// A stand-in signer for handler tests: the "signature" is SHA-256 of the message, so a test can
/// tell which bytes were signed. The KMS adapter is tested against the emulator.
#[derive(Debug, Default)]
pub struct DigestSigner;

impl Signer for DigestSigner {
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, StoreError> {
        use sha2::Digest as _;
        Ok(sha2::Sha256::digest(message).to_vec())
    }

    async fn public_key(&self) -> Result<Vec<u8>, StoreError> {
        Ok(b"digest-signer".to_vec())
    }
}

/// The archive in memory: every version of every object, as a versioned bucket keeps them.
#[derive(Debug, Default)]
pub struct MemoryArchive {
    pub objects: Mutex<BTreeMap<(String, u64), Vec<Signed>>>,
}

impl Archive for MemoryArchive {
    async fn put(&self, tenant: &Tenant, size: u64, signed: &Signed) -> Result<(), StoreError> {
        self.objects
            .lock()
            .unwrap()
            .entry((tenant.as_str().to_owned(), size))
            .or_default()
            .push(signed.clone());
        Ok(())
    }

    async fn get(&self, tenant: &Tenant, size: u64) -> Result<Option<Signed>, StoreError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(&(tenant.as_str().to_owned(), size))
            .and_then(|v| v.last().cloned()))
    }

    async fn sizes(&self, tenant: &Tenant) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|(t, _)| t == tenant.as_str())
            .map(|(_, size)| *size)
            .collect())
    }
}
