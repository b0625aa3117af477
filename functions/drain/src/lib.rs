//! The drain function: turns SQS batches into DynamoDB items, reporting only the messages that
//! failed so that one bad message never holds back the rest. Redelivery is harmless: every item's
//! key depends only on the event id, so a second put overwrites the first.
//!
//! Each event item carries `mac`, the writer HMAC of its canonical `log` bytes
//! (`audit_domain::seal::WriterKey`), so that the seal function can tell the service's writes from
//! anyone else's.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use audit_domain::backoff::Backoff;
use audit_domain::envelope;
use audit_domain::layout::{CatalogueRecord, EventRecord};
use audit_domain::ports::{EventStore, Record};
use audit_domain::seal::WriterKey;
use audit_telemetry::metrics::{self, Unit};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::stream::{self, StreamExt};

/// How many `BatchWriteItem` calls run at once by default (`with_concurrency` sets another). A batch of the template's 100 messages holds a few
/// hundred items, so tens of chunks of 25; four in flight keeps one invocation well under a
/// partition's write limit.
const CONCURRENCY: usize = 4;

/// Time kept back from the invocation deadline to answer with the failed message ids.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(1500);

/// The drain, generic over the store so that tests can inject faults.
pub struct Drain<S> {
    store: S,
    shards: u32,
    retry: Backoff,
    writer_key: WriterKey,
    concurrency: usize,
    /// Catalogue entries already written by this process: a name costs one write per cold start,
    /// not one per event.
    names_written: Mutex<HashSet<(String, String)>>,
}

/// What one invocation did, for the log and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    pub messages: usize,
    pub events: usize,
    pub items_written: usize,
    /// Events (not catalogue entries) stored by this invocation.
    pub events_written: usize,
    pub undecodable: usize,
    pub failed_messages: usize,
    pub retries: usize,
}

/// One distinct item to write, and the messages that carried it.
struct Pending {
    record: Record,
    owners: Vec<usize>,
}

impl<S: EventStore> Drain<S> {
    pub fn new(store: S, shards: u32) -> Self {
        Self {
            store,
            shards,
            retry: Backoff::default(),
            writer_key: WriterKey::development(),
            concurrency: CONCURRENCY,
            names_written: Mutex::new(HashSet::new()),
        }
    }

    pub fn with_retry(mut self, retry: Backoff) -> Self {
        self.retry = retry;
        self
    }

    /// The key of the writer HMAC (`AUDIT_WRITER_KEY`); without it, the development key.
    pub fn with_writer_key(mut self, key: WriterKey) -> Self {
        self.writer_key = key;
        self
    }

    /// How many `BatchWriteItem` calls one invocation has in flight (`AUDIT_DRAIN_CONCURRENCY`); at
    /// least 1.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The item of one event, signed with the writer HMAC.
    fn event_record(&self, event: &audit_domain::Event) -> EventRecord {
        let mut record = EventRecord::new(event, self.shards);
        record.mac = self.writer_key.mac_event(event);
        record
    }

    /// Handles one batch. `deadline` is when the invocation must have answered; retries stop
    /// short of it, and what is still unwritten is reported failed for SQS to deliver again.
    pub async fn handle(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> (SqsBatchResponse, DrainReport) {
        let mut report = DrainReport {
            messages: event.records.len(),
            ..DrainReport::default()
        };
        let mut failed: Vec<bool> = vec![false; event.records.len()];
        let mut pending: Vec<Pending> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        let mut add = |record: Record, owner: usize, pending: &mut Vec<Pending>| {
            let (pk, sk) = record.key();
            match index.get(&(pk.to_owned(), sk.to_owned())) {
                // The same key twice in one call (a redelivered message, or a name seen again):
                // BatchWriteItem would refuse the pair, and one write serves both.
                Some(&at) => {
                    pending[at].record = record;
                    pending[at].owners.push(owner);
                }
                None => {
                    index.insert((pk.to_owned(), sk.to_owned()), pending.len());
                    pending.push(Pending {
                        record,
                        owners: vec![owner],
                    });
                }
            }
        };

        for (position, message) in event.records.iter().enumerate() {
            let message_id = message.message_id.as_deref().unwrap_or("");
            let decoded = message
                .body
                .as_deref()
                .ok_or(None)
                .and_then(|b| envelope::unpack(b).map_err(Some));
            match decoded {
                Ok(events) => {
                    report.events += events.len();
                    for event in &events {
                        add(
                            Record::Event(self.event_record(event)),
                            position,
                            &mut pending,
                        );
                        let name = CatalogueRecord::new(event);
                        if !self.name_written(&name) {
                            add(Record::Name(name), position, &mut pending);
                        }
                    }
                }
                Err(error) => {
                    // Never retryable: the body will not change. It fails until SQS moves it to
                    // the dead-letter queue after maxReceiveCount receives.
                    let reason =
                        error.map_or_else(|| "message has no body".to_owned(), |e| e.to_string());
                    tracing::warn!(message_id, error = %reason, "undecodable message");
                    report.undecodable += 1;
                    failed[position] = true;
                }
            }
        }

        let chunks: Vec<Vec<Pending>> = chunked(pending, S::MAX_BATCH);
        let outcomes: Vec<(Vec<Pending>, ChunkOutcome)> = stream::iter(chunks)
            .map(|chunk| async move {
                let records = chunk.iter().map(|p| p.record.clone()).collect();
                let outcome = self.write_chunk(records, deadline).await;
                (chunk, outcome)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;

        for (chunk, outcome) in outcomes {
            report.retries += outcome.retries;
            for item in chunk {
                let (pk, sk) = item.record.key();
                if outcome.unwritten.contains(&(pk.to_owned(), sk.to_owned())) {
                    item.owners.iter().for_each(|&o| failed[o] = true);
                } else {
                    report.items_written += 1;
                    match &item.record {
                        Record::Name(name) => self.remember_name(name),
                        Record::Event(_) => report.events_written += 1,
                    }
                }
            }
        }

        let mut response = SqsBatchResponse::default();
        for (message, _) in event.records.iter().zip(&failed).filter(|(_, &f)| f) {
            report.failed_messages += 1;
            match &message.message_id {
                Some(id) => {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id.clone();
                    response.batch_item_failures.push(failure);
                }
                None => tracing::error!("a failed message has no id and cannot be reported"),
            }
        }
        tracing::info!(
            messages = report.messages,
            events = report.events,
            items_written = report.items_written,
            undecodable = report.undecodable,
            failed_messages = report.failed_messages,
            retries = report.retries,
            "batch drained"
        );
        metrics::emit(
            "drain",
            &[
                ("EventsWritten", report.events_written as f64, Unit::Count),
                ("ItemsWritten", report.items_written as f64, Unit::Count),
                (
                    "BatchItemFailures",
                    report.failed_messages as f64,
                    Unit::Count,
                ),
                (
                    "UndecodableMessages",
                    report.undecodable as f64,
                    Unit::Count,
                ),
                ("WriteRetries", report.retries as f64, Unit::Count),
            ],
        );
        (response, report)
    }

    /// Writes one chunk, retrying what DynamoDB leaves unprocessed or throttles, with exponential
    /// backoff and full jitter, until the deadline. Returns the keys it could not write.
    async fn write_chunk(&self, records: Vec<Record>, deadline: Instant) -> ChunkOutcome {
        let mut outcome = ChunkOutcome::default();
        let mut todo = records;
        let mut retries = self.retry.until(deadline);
        while !todo.is_empty() {
            match self.store.write(todo.clone()).await {
                Ok(unprocessed) => todo = unprocessed,
                Err(error) if error.is_retryable() => {
                    tracing::warn!(error = %audit_telemetry::error_chain(&error), items = todo.len(), "store write failed, will retry");
                }
                Err(error) if todo.len() > 1 => {
                    // One bad item makes DynamoDB refuse the whole request: write them one by one
                    // so that only the bad one fails.
                    tracing::warn!(error = %audit_telemetry::error_chain(&error), "batch refused, isolating items");
                    for record in std::mem::take(&mut todo) {
                        let single = Box::pin(self.write_chunk(vec![record], deadline)).await;
                        outcome.retries += single.retries;
                        outcome.unwritten.extend(single.unwritten);
                    }
                    return outcome;
                }
                Err(error) => {
                    tracing::error!(error = %audit_telemetry::error_chain(&error), "item refused by the store");
                    break;
                }
            }
            if todo.is_empty() {
                break;
            }
            let Some(delay) = retries.next_delay() else {
                tracing::warn!(
                    items = todo.len(),
                    "deadline reached, leaving items to redelivery"
                );
                break;
            };
            tokio::time::sleep(delay).await;
            outcome.retries += 1;
        }
        outcome.unwritten.extend(todo.iter().map(|r| {
            let (pk, sk) = r.key();
            (pk.to_owned(), sk.to_owned())
        }));
        outcome
    }

    fn name_written(&self, name: &CatalogueRecord) -> bool {
        let cache = self.names_written.lock().unwrap_or_else(|e| e.into_inner());
        cache.contains(&(name.pk.clone(), name.sk.clone()))
    }

    fn remember_name(&self, name: &CatalogueRecord) {
        let mut cache = self.names_written.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert((name.pk.clone(), name.sk.clone()));
    }
}

#[derive(Default)]
struct ChunkOutcome {
    unwritten: HashSet<(String, String)>,
    retries: usize,
}

fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(size).collect());
    }
    chunks
}

/// The deadline of a Lambda invocation (milliseconds since the epoch), less a margin for answering.
/// A zero deadline (no context) gets `fallback` from now.
pub fn deadline_from_epoch_ms(deadline_ms: u64, margin: Duration, fallback: Duration) -> Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if deadline_ms == 0 {
        return Instant::now() + fallback;
    }
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(margin);
    Instant::now() + left
}

#[cfg(test)]
mod tests;
