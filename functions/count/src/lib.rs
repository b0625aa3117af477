//! The count function: keeps the counters of `audit_domain::counters` from the table's stream,
//! exactly once, so that reads can answer `total_records` from a few counter items.
//!
//! A batch is applied as prefix chunks, each one `TransactWriteItems` of its counter `ADD`s and the
//! shard's checkpoint, conditioned on the checkpoint read at the start. Records at or before the
//! checkpoint are skipped, so a redelivered, retried or bisected batch applies nothing twice, and a
//! crash between two chunks leaves a checkpoint at an exact record boundary. A failure answers a
//! partial batch response naming the first record not applied; the event source mapping delivers
//! again from there.
//!
//! ## Which shard a batch came from
//!
//! Sequence numbers increase within a shard but mean nothing across shards, so the checkpoint must
//! be per shard. Lambda hands one invocation records of one shard only, and with
//! `ParallelizationFactor` 1 there is at most one invocation per shard at a time; but the plain
//! DynamoDB stream event does not say which shard. Its `eventID` is an opaque id (not Kinesis's
//! `shardId-…:sequence`), `eventSourceARN` names the stream, and the sequence number does not encode
//! the shard either: only the failure destination's `DDBStreamBatchInfo` carries a `shardId`, and
//! the function never sees that. What does carry it is the *tumbling window* event: with
//! `TumblingWindowInSeconds` set on the mapping, every invocation has top-level `shardId`,
//! `window`, `state` and `isFinalInvokeForWindow` beside `Records` (AWS Lambda developer guide,
//! "Using AWS Lambda with Amazon DynamoDB", section "Time windows"; `aws_lambda_events`'
//! `TimeWindowEvent`). So the count function is deployed with a tumbling window (its state unused:
//! every invocation counts its own records) and keys checkpoints by that `shardId`. A window costs
//! one extra, record-less final invocation per shard and window, so the window is long (900 s, the
//! maximum). The answer must then carry a `state` property or Lambda treats it as failed:
//! [`windowed_response`] gives it an empty one. A payload without `shardId` is refused, since
//! keying by anything else would be wrong once the stream has two shards.

use std::collections::{BTreeMap, HashSet};

use audit_domain::counters::{
    deltas, plan, Applied, Change, CounterStore, EventImage, SequenceNumber, ShardId,
};
use audit_domain::layout::EventRecord as StoredEvent;
use audit_domain::ports::StoreError;
use aws_lambda_events::event::dynamodb::{EventRecord, TimeWindowEventResponse};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;

/// How often one invocation re-reads a checkpoint that moved under it before giving up. With one
/// invocation per shard it moves only when an earlier attempt's answer was lost; more than this
/// means something else writes the checkpoint.
pub const MAX_CHECKPOINT_MOVES: usize = 3;

/// What Lambda sends: the records and, from a mapping with a tumbling window, the shard. Both the
/// plain and the windowed DynamoDB event parse as this; only the windowed one names a shard.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Invocation {
    #[serde(rename = "Records", default)]
    pub records: Vec<EventRecord>,
    #[serde(rename = "shardId", default)]
    pub shard_id: Option<String>,
}

/// Why a batch cannot be counted at all.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The mapping has no tumbling window, so the payload names no shard (see the module docs).
    #[error(
        "the invocation names no shard: set TumblingWindowInSeconds on the event source mapping"
    )]
    NoShard,
    #[error("the invocation's shardId {0:?} is not a shard id")]
    BadShard(String),
    /// Lambda always sends one; without it the record can be neither ordered nor checkpointed.
    #[error("stream record {event_id} has no valid sequence number")]
    NoSequenceNumber { event_id: String },
}

impl Invocation {
    pub fn shard(&self) -> Result<ShardId, CountError> {
        let text = self.shard_id.as_deref().ok_or(CountError::NoShard)?;
        ShardId::parse(text).ok_or_else(|| CountError::BadShard(text.to_owned()))
    }
}

/// The answer to a windowed invocation: the partial batch response plus the `state` property
/// Lambda requires of it (empty; the window's state is not used).
pub fn windowed_response(response: DynamoDbEventResponse) -> TimeWindowEventResponse {
    let mut windowed = TimeWindowEventResponse::default();
    windowed.batch_item_failures = response.batch_item_failures;
    windowed
}

/// What one invocation did, for the log and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CountReport {
    /// Records in the batch (duplicates included).
    pub records: usize,
    /// Records applied by this invocation that changed some count.
    pub events_counted: usize,
    /// Counter updates written (one per counter per transaction).
    pub counters_written: usize,
    pub transactions: usize,
    /// Records at or before the checkpoint: applied by an earlier delivery or another invocation.
    pub skipped_applied: usize,
    /// Times the checkpoint had moved when a transaction was tried.
    pub checkpoint_moved: usize,
    /// Records left for the event source mapping to deliver again.
    pub unapplied: usize,
}

/// The count handler, generic over the counter store so that tests inject faults.
pub struct Count<S> {
    store: S,
}

impl<S: CounterStore> Count<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Counts one invocation: the shard it names, and its records.
    pub async fn invoke(
        &self,
        invocation: Invocation,
    ) -> Result<(DynamoDbEventResponse, CountReport), CountError> {
        let shard = invocation.shard()?;
        self.handle(&shard, invocation.records).await
    }

    /// Counts one batch of one shard's records.
    pub async fn handle(
        &self,
        shard: &ShardId,
        records: Vec<EventRecord>,
    ) -> Result<(DynamoDbEventResponse, CountReport), CountError> {
        let mut report = CountReport {
            records: records.len(),
            ..CountReport::default()
        };
        // The stream's own spelling of each sequence number, for the failure report.
        let mut spelled: BTreeMap<SequenceNumber, String> = BTreeMap::new();
        let mut changes = Vec::with_capacity(records.len());
        // A record delivered twice in one batch counts once. It is known by its sequence number and
        // its eventID together: the emulator can give two writes racing on one table the same
        // sequence number, and those are two records.
        let mut seen: HashSet<(String, String)> = HashSet::with_capacity(records.len());
        for record in records {
            let text = record.change.sequence_number.clone().unwrap_or_default();
            if !seen.insert((text.clone(), record.event_id.clone())) {
                continue;
            }
            let change = change_of(record)?;
            spelled.insert(change.sequence.clone(), text);
            changes.push(change);
        }
        // In stream order (a stable sort: records that share a number keep the batch's order).
        changes.sort_by(|a, b| a.sequence.cmp(&b.sequence));

        let mut response = DynamoDbEventResponse::default();
        if let Err((first, error)) = self.apply(shard, &changes, &mut report).await {
            report.unapplied = changes.len() - changes.partition_point(|c| c.sequence < first);
            tracing::warn!(
                shard = %shard,
                from = %first,
                unapplied = report.unapplied,
                error = %audit_telemetry::error_chain(&error),
                "counting failed, leaving the rest for redelivery"
            );
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = spelled.get(&first).cloned();
            response.batch_item_failures.push(failure);
        }
        tracing::info!(
            shard = %shard,
            records = report.records,
            events_counted = report.events_counted,
            counters_written = report.counters_written,
            transactions = report.transactions,
            skipped_applied = report.skipped_applied,
            checkpoint_moved = report.checkpoint_moved,
            unapplied = report.unapplied,
            "batch counted"
        );
        Ok((response, report))
    }

    /// Applies `changes` (sorted) past the shard's checkpoint. On failure, the first record not
    /// applied and why.
    async fn apply(
        &self,
        shard: &ShardId,
        changes: &[Change],
        report: &mut CountReport,
    ) -> Result<(), (SequenceNumber, StoreError)> {
        let Some(first) = changes.first() else {
            return Ok(());
        };
        // A batch that counts nothing (catalogue and key writes only) needs no checkpoint read.
        if changes.iter().all(|c| c.deltas.is_empty()) {
            return Ok(());
        }
        let mut checkpoint = self
            .store
            .checkpoint(shard)
            .await
            .map_err(|e| (first.sequence.clone(), e))?;
        // Records this invocation applied. The checkpoint only moves forward, so the records at or
        // before it are these and the ones applied elsewhere.
        let mut ours = 0;
        loop {
            let start = match &checkpoint {
                Some(at) => changes.partition_point(|c| &c.sequence <= at),
                None => 0,
            };
            report.skipped_applied = start.saturating_sub(ours);
            let pending = &changes[start..];
            let mut offset = 0;
            let mut moved = false;
            for chunk in plan(pending) {
                if !chunk.needs_write() {
                    // Only ever the last chunk: its records count nothing, so they need no write.
                    offset += chunk.records;
                    continue;
                }
                match self.store.apply(shard, checkpoint.as_ref(), &chunk).await {
                    Ok(Applied::Applied) => {
                        report.transactions += 1;
                        report.counters_written += chunk.counters.len();
                        report.events_counted += chunk.events;
                        offset += chunk.records;
                        ours += chunk.records;
                        checkpoint = Some(chunk.last);
                    }
                    Ok(Applied::CheckpointMoved) => {
                        moved = true;
                        break;
                    }
                    Err(error) => return Err((pending[offset].sequence.clone(), error)),
                }
            }
            if !moved {
                return Ok(());
            }
            report.checkpoint_moved += 1;
            let next = pending[offset].sequence.clone();
            if report.checkpoint_moved > MAX_CHECKPOINT_MOVES {
                return Err((
                    next,
                    StoreError::unavailable(
                        "applying a stream batch",
                        format!(
                            "the checkpoint of shard {shard} moved {} times during one invocation",
                            report.checkpoint_moved
                        ),
                    ),
                ));
            }
            tracing::info!(shard = %shard, "checkpoint moved, re-reading it");
            checkpoint = self.store.checkpoint(shard).await.map_err(|e| (next, e))?;
        }
    }
}

/// One record as a change of counts.
fn change_of(record: EventRecord) -> Result<Change, CountError> {
    let sequence = record
        .change
        .sequence_number
        .as_deref()
        .and_then(SequenceNumber::parse)
        .ok_or_else(|| CountError::NoSequenceNumber {
            event_id: record.event_id.clone(),
        })?;
    let old = image(record.change.old_image, &record.event_id);
    let new = image(record.change.new_image, &record.event_id);
    Ok(Change {
        sequence,
        deltas: deltas(old.as_ref(), new.as_ref()),
    })
}

/// The event an image holds, if it holds one. Only items keyed `E#…` are tried: the rest
/// (catalogue, keys, counters, checkpoints) are not events and are skipped without a word.
fn image(item: serde_dynamo::Item, event_id: &str) -> Option<EventImage> {
    let keyed_as_event = matches!(
        item.get("pk"),
        Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with("E#")
    );
    if !keyed_as_event {
        return None;
    }
    match serde_dynamo::from_item::<_, StoredEvent>(item) {
        Ok(stored) => {
            let image = EventImage::from_record(&stored);
            if image.is_none() {
                tracing::debug!(event_id, pk = %stored.pk, "an E# item that is not an event, counted nothing");
            }
            image
        }
        Err(error) => {
            // The emulator's keys-only INSERT for an UpdateItem lands here, as would any item this
            // code did not write.
            tracing::debug!(event_id, %error, "an E# image that does not parse as an event, counted nothing");
            None
        }
    }
}

#[cfg(test)]
mod tests;
