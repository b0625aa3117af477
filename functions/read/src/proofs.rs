//! The sealed log's read routes: `GET /api/checkpoint[?size=N]`, `GET /api/checkpoint/consistency`
//! and `GET /api/logs/{id}/proof[?size=N]`. Each reads only the tiles its proof needs (the
//! `audit_tlog::Plan` of it: O(log n) tiles), and the signed checkpoint it proves against.
//!
//! [`LogApi`] is object-safe, so that the read handler holds it without another type parameter.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use audit_domain::ports::StoreError;
use audit_domain::seal::{CheckpointStore, LogStore, Signed, Signer};
use audit_domain::{FieldErrors, Tenant};
use audit_tlog::{Checkpoint, Plan, TileId, TileSet, TreeSize};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a proof request found.
pub enum ProofAnswer {
    Found(Value),
    /// No leaf of the id is in the checkpoint (none yet, or none at all).
    NotInCheckpoint,
    /// `?size=N` names no checkpoint, or there is none.
    NoCheckpoint,
}

pub trait LogApi: Send + Sync {
    /// The latest checkpoint, or the one at `size`.
    fn checkpoint<'a>(
        &'a self,
        tenant: &'a Tenant,
        size: Option<u64>,
    ) -> BoxFuture<'a, Result<Option<Value>, StoreError>>;

    /// The consistency proof between two sizes, both at most the latest checkpoint's; `None` when
    /// there is no checkpoint; field errors when `to` is beyond it.
    fn consistency<'a>(
        &'a self,
        tenant: &'a Tenant,
        from: u64,
        to: u64,
    ) -> BoxFuture<'a, Result<Option<Result<Value, FieldErrors>>, StoreError>>;

    /// Every leaf of `id` in the checkpoint (the latest, or the one at `size`), with proofs.
    fn proof<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        size: Option<u64>,
    ) -> BoxFuture<'a, Result<ProofAnswer, StoreError>>;
}

/// The log routes over a log store and the checkpoint key's public half.
pub struct Proofs<L, P> {
    log: L,
    signer: P,
}

impl<L: LogStore + CheckpointStore, P: Signer> Proofs<L, P> {
    pub fn new(log: L, signer: P) -> Self {
        Self { log, signer }
    }

    async fn answer(&self, signed: &Signed) -> Result<Value, StoreError> {
        Ok(json!({
            "checkpoint": signed.body,
            "signature": STANDARD.encode(&signed.signature),
            "public_key": STANDARD.encode(self.signer.public_key().await?),
        }))
    }

    async fn find(
        &self,
        tenant: &Tenant,
        size: Option<u64>,
    ) -> Result<Option<(Signed, Checkpoint)>, StoreError> {
        let signed = match size {
            Some(size) => self.log.signed(tenant, size).await?,
            None => self.log.latest_signed(tenant).await?,
        };
        Ok(signed.and_then(|s| {
            let parsed = Checkpoint::parse(&s.body).ok()?;
            Some((s, parsed))
        }))
    }

    async fn tiles(&self, tenant: &Tenant, ids: BTreeSet<TileId>) -> Result<TileSet, StoreError> {
        let mut tiles = TileSet::new();
        for id in ids {
            let hashes = self.log.tile(tenant, id.level(), id.index()).await?;
            tiles
                .insert(id.level(), id.index(), hashes)
                .map_err(|e| StoreError::rejected("reading a tile", e))?;
        }
        Ok(tiles)
    }
}

fn base64_hashes(hashes: &[audit_tlog::Hash]) -> Vec<String> {
    hashes.iter().map(audit_tlog::Hash::to_base64).collect()
}

fn proof_error(error: audit_tlog::ProofError) -> StoreError {
    StoreError::rejected("making a proof", error)
}

impl<L: LogStore + CheckpointStore, P: Signer> LogApi for Proofs<L, P> {
    fn checkpoint<'a>(
        &'a self,
        tenant: &'a Tenant,
        size: Option<u64>,
    ) -> BoxFuture<'a, Result<Option<Value>, StoreError>> {
        Box::pin(async move {
            match self.find(tenant, size).await? {
                Some((signed, _)) => Ok(Some(self.answer(&signed).await?)),
                None => Ok(None),
            }
        })
    }

    fn consistency<'a>(
        &'a self,
        tenant: &'a Tenant,
        from: u64,
        to: u64,
    ) -> BoxFuture<'a, Result<Option<Result<Value, FieldErrors>>, StoreError>> {
        Box::pin(async move {
            let Some((_, latest)) = self.find(tenant, None).await? else {
                return Ok(None);
            };
            if to > latest.size().get() {
                let mut errors = FieldErrors::new();
                errors.add(
                    "to",
                    format!(
                        "must not exceed the latest checkpoint's size, {}",
                        latest.size()
                    ),
                );
                return Ok(Some(Err(errors)));
            }
            let plan =
                Plan::consistency(TreeSize::new(from), TreeSize::new(to)).map_err(proof_error)?;
            let tiles = self
                .tiles(tenant, plan.tiles().into_iter().collect())
                .await?;
            let proof = plan.hashes(&tiles).map_err(proof_error)?;
            Ok(Some(Ok(json!({
                "from": from,
                "to": to,
                "proof": base64_hashes(&proof),
            }))))
        })
    }

    fn proof<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        size: Option<u64>,
    ) -> BoxFuture<'a, Result<ProofAnswer, StoreError>> {
        Box::pin(async move {
            let Some((signed, checkpoint)) = self.find(tenant, size).await? else {
                return Ok(ProofAnswer::NoCheckpoint);
            };
            let tree = checkpoint.size();
            let leaves: Vec<_> = self
                .log
                .leaves_of(tenant, id)
                .await?
                .into_iter()
                .filter(|l| l.index < tree.get())
                .collect();
            if leaves.is_empty() {
                return Ok(ProofAnswer::NotInCheckpoint);
            }
            let mut plans = Vec::with_capacity(leaves.len());
            let mut ids = BTreeSet::new();
            for leaf in &leaves {
                let plan = Plan::inclusion(leaf.index, tree).map_err(proof_error)?;
                ids.extend(plan.tiles());
                plans.push(plan);
            }
            let tiles = self.tiles(tenant, ids).await?;
            let mut versions = Vec::with_capacity(leaves.len());
            for (leaf, plan) in leaves.iter().zip(&plans) {
                let proof = plan.hashes(&tiles).map_err(proof_error)?;
                versions.push(json!({
                    "leaf_index": leaf.index,
                    "kind": leaf.kind.as_str(),
                    "writer": leaf.writer.as_str(),
                    "inclusion": base64_hashes(&proof),
                }));
            }
            Ok(ProofAnswer::Found(json!({
                "tree_size": tree.get(),
                "versions": versions,
                "checkpoint": self.answer(&signed).await?,
            })))
        })
    }
}
