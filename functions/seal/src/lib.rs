//! The seal function: appends each stored event version and each removal to its tenant's Merkle
//! log (`audit_domain::seal`, `audit_tlog`), from the table's stream, exactly once.
//!
//! One batch, of one shard, in stream order:
//! 1. Each record becomes at most one leaf (`seal::leaf_of`): an INSERT, a MODIFY that changed the
//!    event's `log`, a REMOVE (expired when TTL did it). Records at or before the shard's checkpoint
//!    were sealed by an earlier delivery and are skipped.
//! 2. Per tenant, the head is read and the leaves are split by the shard's claim
//!    (`seal::head::split`): the lookups and tiles of an open claim (a crash or a lost answer
//!    before the checkpoint moved) are written again from the claim; the fresh leaves get a new
//!    claim, one conditional write of the head (a version condition: a second shard racing on the
//!    same tenant makes one of the two re-read and claim after the other). Then their lookups and
//!    tiles are written: plain puts of content the claim determines (tile segments, see
//!    `seal::items`), and, for a write that fills or compacts a tile, a put of the whole tile that
//!    waits until the hashes before its own are there.
//! 3. The shard's checkpoint moves to the batch's last record.
//!
//! No write is transactional, so each costs one unit per KB (docs/PERFORMANCE.md gives the cost per
//! event). A failure answers a partial batch response naming the first record after the checkpoint;
//! the mapping delivers again from there and the claims make the retry write the same leaves at the
//! same indexes.
//!
//! The shard comes from the tumbling-window payload, as for the count function (see its docs).
//!
//! The same function, invoked by its schedule rather than the stream, signs checkpoints
//! ([`checkpoint`]).

pub mod checkpoint;

use std::collections::{BTreeMap, HashSet};

use audit_domain::counters::{SequenceNumber, ShardId};
use audit_domain::layout::EventRecord as StoredEvent;
use audit_domain::ports::StoreError;
use audit_domain::seal::{
    event_key, leaf_of, split, ChangeName, Leaf, LeafEntry, LogStore, Placed, SealChange, Swap,
    TileOutcome, WriterKey,
};
use audit_domain::Tenant;
use audit_tlog::{Frontier, TileWrite};
use aws_lambda_events::event::dynamodb::{EventRecord, TimeWindowEventResponse};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;

/// How often one tenant's head may move under one invocation (other shards claiming) before the
/// batch is left for redelivery.
pub const MAX_HEAD_MOVES: usize = 8;

/// The principal DynamoDB's TTL deletes as.
const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// What Lambda sends: the records and, from a mapping with a tumbling window, the shard.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Invocation {
    #[serde(rename = "Records", default)]
    pub records: Vec<EventRecord>,
    #[serde(rename = "shardId", default)]
    pub shard_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "the invocation names no shard: set TumblingWindowInSeconds on the event source mapping"
    )]
    NoShard,
    #[error("the invocation's shardId {0:?} is not a shard id")]
    BadShard(String),
    #[error("stream record {event_id} has no valid sequence number")]
    NoSequenceNumber { event_id: String },
}

impl Invocation {
    pub fn shard(&self) -> Result<ShardId, SealError> {
        let text = self.shard_id.as_deref().ok_or(SealError::NoShard)?;
        ShardId::parse(text).ok_or_else(|| SealError::BadShard(text.to_owned()))
    }
}

/// The answer to a windowed invocation (an empty `state`, which Lambda requires).
pub fn windowed_response(response: DynamoDbEventResponse) -> TimeWindowEventResponse {
    let mut windowed = TimeWindowEventResponse::default();
    windowed.batch_item_failures = response.batch_item_failures;
    windowed
}

/// What one invocation did, for the log and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SealReport {
    pub records: usize,
    /// Leaves appended by this invocation (new indexes claimed).
    pub appended: usize,
    /// Leaves of an open claim written again (after a crash or a lost answer).
    pub rewritten: usize,
    /// Records at or before the checkpoint, or placed by an earlier claim.
    pub skipped: usize,
    pub tenants: usize,
    /// Times a tenant's head had moved when this invocation tried to write it.
    pub head_moved: usize,
    /// Records left for the event source mapping to deliver again.
    pub unapplied: usize,
}

pub struct Seal<S> {
    store: S,
    key: WriterKey,
}

impl<S: LogStore> Seal<S> {
    pub fn new(store: S, key: WriterKey) -> Self {
        Self { store, key }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub async fn invoke(
        &self,
        invocation: Invocation,
    ) -> Result<(DynamoDbEventResponse, SealReport), SealError> {
        let shard = invocation.shard()?;
        self.handle(&shard, invocation.records).await
    }

    /// Seals one batch of one shard's records.
    pub async fn handle(
        &self,
        shard: &ShardId,
        records: Vec<EventRecord>,
    ) -> Result<(DynamoDbEventResponse, SealReport), SealError> {
        let mut report = SealReport {
            records: records.len(),
            ..SealReport::default()
        };
        let mut spelled: BTreeMap<SequenceNumber, String> = BTreeMap::new();
        // A record twice in one batch seals once; known by sequence number and eventID together,
        // because the emulator can give two racing writes one sequence number.
        let mut seen: HashSet<(String, String)> = HashSet::with_capacity(records.len());
        let mut changes = Vec::with_capacity(records.len());
        for record in records {
            let text = record.change.sequence_number.clone().unwrap_or_default();
            if !seen.insert((text.clone(), record.event_id.clone())) {
                continue;
            }
            let change = change_of(record)?;
            spelled.insert(change.sequence.clone(), text);
            changes.push(change);
        }
        changes.sort_by(|a, b| a.sequence.cmp(&b.sequence));

        let mut response = DynamoDbEventResponse::default();
        if let Err((first, error)) = self.apply(shard, &changes, &mut report).await {
            report.unapplied = changes.len() - changes.partition_point(|c| c.sequence < first);
            tracing::warn!(
                shard = %shard,
                from = %first,
                unapplied = report.unapplied,
                error = %audit_telemetry::error_chain(&error),
                "sealing failed, leaving the rest for redelivery"
            );
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = spelled.get(&first).cloned();
            response.batch_item_failures.push(failure);
        }
        tracing::info!(
            shard = %shard,
            records = report.records,
            appended = report.appended,
            rewritten = report.rewritten,
            skipped = report.skipped,
            tenants = report.tenants,
            head_moved = report.head_moved,
            unapplied = report.unapplied,
            "batch sealed"
        );
        Ok((response, report))
    }

    async fn apply(
        &self,
        shard: &ShardId,
        changes: &[SealChange],
        report: &mut SealReport,
    ) -> Result<(), (SequenceNumber, StoreError)> {
        let Some(first) = changes.first() else {
            return Ok(());
        };
        let checkpoint = self
            .store
            .checkpoint(shard)
            .await
            .map_err(|e| (first.sequence.clone(), e))?;
        let start = match &checkpoint {
            Some(at) => changes.partition_point(|c| &c.sequence <= at),
            None => 0,
        };
        report.skipped += start;
        let pending = &changes[start..];
        let (Some(first), Some(last)) = (pending.first(), pending.last()) else {
            return Ok(());
        };
        let fail = |e| (first.sequence.clone(), e);
        let mut by_tenant: BTreeMap<String, (Tenant, Vec<Placed>)> = BTreeMap::new();
        for change in pending {
            if let Some(leaf) = leaf_of(change, &self.key) {
                by_tenant
                    .entry(leaf.tenant.as_str().to_owned())
                    .or_insert_with(|| (leaf.tenant.clone(), Vec::new()))
                    .1
                    .push((change.sequence.clone(), leaf));
            }
        }
        if by_tenant.is_empty() {
            // Nothing to seal (catalogue or key writes): no checkpoint write, which would cost a
            // write for records that a redelivery skips anyway.
            return Ok(());
        }
        report.tenants = by_tenant.len();
        for (tenant, placed) in by_tenant.into_values() {
            self.seal_tenant(shard, checkpoint.as_ref(), &tenant, placed, report)
                .await
                .map_err(fail)?;
        }
        match self
            .store
            .set_checkpoint(shard, checkpoint.as_ref(), &last.sequence)
            .await
            .map_err(fail)?
        {
            Swap::Done => Ok(()),
            Swap::Moved => {
                // Another delivery of this shard got there first; fine if it is at least as far.
                let now = self.store.checkpoint(shard).await.map_err(fail)?;
                if now.as_ref().is_some_and(|at| at >= &last.sequence) {
                    Ok(())
                } else {
                    Err(fail(StoreError::unavailable(
                        "moving the seal checkpoint",
                        format!(
                            "the checkpoint of shard {shard} moved to {now:?} under this batch"
                        ),
                    )))
                }
            }
        }
    }

    /// Appends one tenant's leaves of the batch (see the module docs, step 2).
    async fn seal_tenant(
        &self,
        shard: &ShardId,
        checkpoint: Option<&SequenceNumber>,
        tenant: &Tenant,
        placed: Vec<Placed>,
        report: &mut SealReport,
    ) -> Result<(), StoreError> {
        for _ in 0..MAX_HEAD_MOVES {
            let head = self.store.head(tenant).await?.unwrap_or_default();
            let claim = head.claims.get(shard.as_str());
            let parts = split(claim, placed.clone());
            if let Some(claim) = claim.filter(|_| !parts.redo.is_empty()) {
                let frontier = self.write(tenant, &claim.frontier, &parts.redo).await?;
                let through = parts.redo.last().expect("not empty").0.clone();
                if through < claim.last {
                    // The batch ends inside the claim (it was bisected): record how far it got.
                    let next = head.advanced(shard.as_str(), through, frontier);
                    match self.store.put_head(tenant, head.version, &next).await? {
                        Swap::Done => {
                            report.rewritten += parts.redo.len();
                            report.skipped += parts.skipped;
                            return Ok(());
                        }
                        Swap::Moved => {
                            report.head_moved += 1;
                            continue;
                        }
                    }
                }
            }
            if parts.fresh.is_empty() {
                report.rewritten += parts.redo.len();
                report.skipped += parts.skipped;
                return Ok(());
            }
            let after = std::cmp::max(checkpoint.cloned(), claim.map(|c| c.last.clone()));
            let now = chrono::Utc::now().timestamp();
            let (next, _) = head
                .claimed(shard.as_str(), after, &parts.fresh, now)
                .map_err(|e| StoreError::rejected("appending to a log", e))?;
            match self.store.put_head(tenant, head.version, &next).await? {
                Swap::Done => {}
                Swap::Moved => {
                    report.head_moved += 1;
                    continue;
                }
            }
            self.write(tenant, &head.frontier, &parts.fresh).await?;
            report.appended += parts.fresh.len();
            report.rewritten += parts.redo.len();
            report.skipped += parts.skipped;
            return Ok(());
        }
        Err(StoreError::unavailable(
            "appending to a log",
            format!(
                "the head of {} moved {MAX_HEAD_MOVES} times during one invocation",
                tenant.as_str()
            ),
        ))
    }

    /// Writes the lookups and tiles of `placed`, leaves from index `frontier.size()`; returns the
    /// frontier after them.
    async fn write(
        &self,
        tenant: &Tenant,
        frontier: &Frontier,
        placed: &[Placed],
    ) -> Result<Frontier, StoreError> {
        let hashes: Vec<_> = placed.iter().map(|(_, leaf)| leaf.hash).collect();
        let appended = frontier
            .append(&hashes)
            .map_err(|e| StoreError::rejected("appending to a log", e))?;
        let start = frontier.size().get();
        let entries: Vec<LeafEntry> = placed
            .iter()
            .enumerate()
            .map(|(i, (_, leaf))| entry(start + i as u64, leaf))
            .collect();
        self.store.put_leaves(tenant, &entries).await?;
        self.write_tiles(tenant, &appended.tiles).await?;
        Ok(appended.frontier)
    }

    async fn write_tiles(&self, tenant: &Tenant, tiles: &[TileWrite]) -> Result<(), StoreError> {
        for write in tiles {
            if self.store.write_tile(tenant, write).await? == TileOutcome::Gap {
                return Err(StoreError::unavailable(
                    "writing a tile",
                    format!(
                        "tile {} of {} is not written up to position {} yet: another shard's append is unfinished",
                        write.tile().path(),
                        tenant.as_str(),
                        write.start()
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn entry(index: u64, leaf: &Leaf) -> LeafEntry {
    LeafEntry {
        index,
        id: leaf.id.clone(),
        kind: leaf.kind,
        writer: leaf.writer,
        hash: leaf.hash,
    }
}

/// One stream record, reduced to what the seal needs.
fn change_of(record: EventRecord) -> Result<SealChange, SealError> {
    let sequence = record
        .change
        .sequence_number
        .as_deref()
        .and_then(SequenceNumber::parse)
        .ok_or_else(|| SealError::NoSequenceNumber {
            event_id: record.event_id.clone(),
        })?;
    let name = match record.event_name.as_str() {
        "INSERT" => ChangeName::Insert,
        "REMOVE" => ChangeName::Remove,
        _ => ChangeName::Modify,
    };
    let removed = match &record.change.old_image.get("pk") {
        Some(serde_dynamo::AttributeValue::S(pk)) => event_key(pk),
        _ => None,
    };
    let by_ttl = record
        .user_identity
        .as_ref()
        .is_some_and(|u| u.type_ == "Service" && u.principal_id == TTL_PRINCIPAL);
    Ok(SealChange {
        sequence,
        event_id: record.event_id.clone(),
        name,
        old: event_image(record.change.old_image),
        new: event_image(record.change.new_image),
        removed,
        by_ttl,
    })
}

/// The event item an image holds, if it is one (`E#` keys that parse).
fn event_image(item: serde_dynamo::Item) -> Option<StoredEvent> {
    let keyed_as_event = matches!(
        item.get("pk"),
        Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with("E#")
    );
    if !keyed_as_event {
        return None;
    }
    serde_dynamo::from_item(item).ok()
}

#[cfg(test)]
mod tests;
