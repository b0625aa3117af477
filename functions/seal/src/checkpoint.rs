//! Signed checkpoints: on a schedule, each tenant whose log grew gets a new C2SP checkpoint body
//! signed by KMS, at most every `AUDIT_SEAL_INTERVAL_SECONDS`; a log that did not grow is signed
//! again at least once an hour, so that a reader can see how fresh the latest checkpoint is.
//!
//! A checkpoint is signed only once the tiles hold the whole tree: its root is recomputed from the
//! stored tiles and must equal the head's. Each is kept in the log table and, first, as an object
//! under S3 Object Lock (`Archive`). A log whose last claim is still being written waits for
//! the next run, so every checkpoint has proofs.

use std::time::Duration;

use audit_domain::ports::StoreError;
use audit_domain::seal::{Archive, CheckpointStore, LogStore, Signed, Signer};
use audit_domain::Tenant;
use audit_tlog::{Checkpoint, Origin, Plan, TileSet, TreeSize};
use chrono::{DateTime, Utc};

/// A log that did not grow is signed again after this long.
pub const FRESHNESS: Duration = Duration::from_secs(3600);

pub struct Checkpointer<S, K, A> {
    store: S,
    signer: K,
    archive: A,
    prefix: String,
    interval: Duration,
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckpointReport {
    pub tenants: usize,
    pub signed: usize,
    /// Tenants whose latest checkpoint is recent enough.
    pub fresh: usize,
    /// Tenants whose tiles do not hold the head's tree yet.
    pub not_ready: usize,
}

impl<S: LogStore + CheckpointStore, K: Signer, A: Archive> Checkpointer<S, K, A> {
    /// `prefix` starts each origin line, `<prefix>/<tenant>`.
    pub fn new(store: S, signer: K, archive: A, prefix: &str, interval: Duration) -> Self {
        Self {
            store,
            signer,
            archive,
            prefix: prefix.to_owned(),
            interval,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Checkpoints every tenant that is due.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<CheckpointReport, StoreError> {
        let mut report = CheckpointReport::default();
        for tenant in self.store.tenants().await? {
            report.tenants += 1;
            match self.tenant(&tenant, now).await? {
                Outcome::Signed(_) => report.signed += 1,
                Outcome::Fresh => report.fresh += 1,
                Outcome::NotReady => report.not_ready += 1,
            }
        }
        tracing::info!(
            tenants = report.tenants,
            signed = report.signed,
            fresh = report.fresh,
            not_ready = report.not_ready,
            "checkpoints"
        );
        Ok(report)
    }

    /// Checkpoints one tenant if it is due.
    pub async fn tenant(&self, tenant: &Tenant, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        let Some(head) = self.store.head(tenant).await? else {
            return Ok(Outcome::Fresh);
        };
        let latest = self
            .store
            .latest_signed(tenant)
            .await?
            .and_then(|s| Checkpoint::parse(&s.body).ok());
        if let Some(latest) = &latest {
            let age = (now - latest.time()).to_std().unwrap_or_default();
            let grew = head.size() > latest.size().get();
            if !(grew && age >= self.interval) && age < FRESHNESS {
                return Ok(Outcome::Fresh);
            }
        }
        let size = TreeSize::new(head.size());
        let plan = Plan::root(size);
        let mut tiles = TileSet::new();
        for tile in plan.tiles() {
            let hashes = self.store.tile(tenant, tile.level(), tile.index()).await?;
            tiles
                .insert(tile.level(), tile.index(), hashes)
                .map_err(|e| StoreError::rejected("reading a tile", e))?;
        }
        match audit_tlog::root(size, &tiles) {
            Ok(root) if root == head.root() => {}
            _ => return Ok(Outcome::NotReady),
        }
        let origin = Origin::for_tenant(&self.prefix, tenant.as_str())
            .map_err(|e| StoreError::rejected("naming a log", e))?;
        let body = Checkpoint::new(origin, size, head.root(), now).body();
        let signature = self.signer.sign(body.as_bytes()).await?;
        let signed = Signed { body, signature };
        // The locked copy first: a checkpoint in the table always has one.
        self.archive.put(tenant, size.get(), &signed).await?;
        self.store.put_signed(tenant, size.get(), &signed).await?;
        Ok(Outcome::Signed(signed))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Signed(Signed),
    Fresh,
    NotReady,
}
