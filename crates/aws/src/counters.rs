//! The counter store on DynamoDB: the shard's checkpoint by a strongly consistent `GetItem`, and
//! each chunk as one `TransactWriteItems` of an `ADD n :d` per counter plus the checkpoint's
//! conditioned `SET`. The checkpoint is the transaction's first action, so a cancellation whose
//! first reason is `ConditionalCheckFailed` means exactly "the checkpoint moved". The read helpers
//! sum counter items for the read side: a `Query` on one counter partition with `sk BETWEEN`, which
//! reads a run of hours or minutes because bucket sort keys are fixed width.
//!
//! `ClientRequestToken` is not used: the emulator ignores it, and the checkpoint condition already
//! makes a repeated transaction a no-op.
//!
//! The operator's recount (a scan of events and counters, and absolute counter writes) is in
//! [`recount`].

use std::collections::HashMap;
use std::sync::Arc;

use audit_domain::counters::{
    Applied, Bucket, Chunk, CounterStore, SequenceNumber, ShardId, CHECKPOINT_ATTRIBUTE,
    COUNT_ATTRIBUTE, MAX_COUNTERS, TOTAL_SK,
};
use audit_domain::ports::StoreError;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use crate::error::{rejected, store_error};

mod recount;

pub use recount::ScanProgress;

type Item = HashMap<String, AttributeValue>;

/// Cancellation reasons that mean "not now": the same transaction may succeed on a retry.
const RETRYABLE_REASONS: &[&str] = &[
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// Counters and checkpoints in the counters table. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DynamoCounters {
    client: Client,
    table: Arc<str>,
}

/// A sum of counter items and what reading them cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSum {
    pub sum: i64,
    /// Items read (`ScannedCount` for a Query, 1 for a `GetItem` that found the item).
    pub items_read: u64,
    pub requests: u64,
}

impl DynamoCounters {
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: Arc::from(table),
        }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        Self::new(crate::endpoint::dynamodb_client(sdk), table)
    }

    /// The counters table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The all-time total of a counter partition (`C#<tenant>` or `C#<tenant>#<name_key>`); 0 when
    /// nothing was ever counted there.
    pub async fn get_total(&self, pk: &str) -> Result<CounterSum, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key(pk, TOTAL_SK)))
            .projection_expression("#n")
            .expression_attribute_names("#n", COUNT_ATTRIBUTE)
            .send()
            .await
            .map_err(store_error("DynamoDB GetItem"))?;
        let (sum, items_read) = match output.item {
            Some(item) => (count_of(&item)?, 1),
            None => (0, 0),
        };
        Ok(CounterSum {
            sum,
            items_read,
            requests: 1,
        })
    }

    /// The sum of the partition's counters with `lo_sk <= sk <= hi_sk`, such as a run of hour
    /// buckets from [`audit_domain::counters::range`].
    pub async fn sum(&self, pk: &str, lo_sk: &str, hi_sk: &str) -> Result<CounterSum, StoreError> {
        let (buckets, mut cost) = self.buckets(pk, lo_sk, hi_sk).await?;
        cost.sum = buckets.iter().map(|(_, n)| n).sum();
        Ok(cost)
    }

    /// Each counter of the partition with `lo_sk <= sk <= hi_sk`, in sort-key order, for a series;
    /// the cost's `sum` is left 0.
    pub async fn buckets(
        &self,
        pk: &str,
        lo_sk: &str,
        hi_sk: &str,
    ) -> Result<(Vec<(Bucket, i64)>, CounterSum), StoreError> {
        let mut found = Vec::new();
        let mut cost = CounterSum::default();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#sk", "sk")
                .expression_attribute_names("#n", COUNT_ATTRIBUTE)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .expression_attribute_values(":lo", AttributeValue::S(lo_sk.to_owned()))
                .expression_attribute_values(":hi", AttributeValue::S(hi_sk.to_owned()))
                .projection_expression("#sk, #n")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error("DynamoDB Query"))?;
            cost.requests += 1;
            cost.items_read += output.scanned_count.max(0) as u64;
            for item in output.items.unwrap_or_default() {
                let bucket = match item.get("sk") {
                    Some(AttributeValue::S(sk)) => Bucket::parse_sk(sk),
                    _ => None,
                };
                // Sort keys this layout does not write are not counters; leave them out.
                if let Some(bucket) = bucket {
                    found.push((bucket, count_of(&item)?));
                }
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok((found, cost)),
            }
        }
    }

    fn checkpoint_update(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        next: &SequenceNumber,
    ) -> Result<Update, StoreError> {
        let (pk, sk) = shard.checkpoint_key();
        let update = Update::builder()
            .table_name(self.table.as_ref())
            .set_key(Some(key(pk, sk)))
            .update_expression("SET #s = :next")
            .expression_attribute_names("#s", CHECKPOINT_ATTRIBUTE)
            .expression_attribute_values(":next", AttributeValue::S(next.padded().to_owned()));
        let update = match expected {
            None => update.condition_expression("attribute_not_exists(#s)"),
            Some(expected) => update
                .condition_expression("#s = :expected")
                .expression_attribute_values(
                    ":expected",
                    AttributeValue::S(expected.padded().to_owned()),
                ),
        };
        update.build().map_err(rejected("DynamoDB Update"))
    }
}

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn count_of(item: &Item) -> Result<i64, StoreError> {
    match item.get(COUNT_ATTRIBUTE) {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| {
            StoreError::rejected(
                "reading a counter",
                format!("counter item with a non-integer count {n:?}"),
            )
        }),
        // An item the transaction created holds `n`; one without is not a counter.
        _ => Ok(0),
    }
}

impl CounterStore for DynamoCounters {
    async fn checkpoint(&self, shard: &ShardId) -> Result<Option<SequenceNumber>, StoreError> {
        let (pk, sk) = shard.checkpoint_key();
        let output = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .projection_expression("#s")
            .expression_attribute_names("#s", CHECKPOINT_ATTRIBUTE)
            .send()
            .await
            .map_err(store_error("DynamoDB GetItem"))?;
        match output
            .item
            .as_ref()
            .and_then(|i| i.get(CHECKPOINT_ATTRIBUTE))
        {
            None => Ok(None),
            Some(AttributeValue::S(text)) => {
                SequenceNumber::parse(text).map(Some).ok_or_else(|| {
                    StoreError::rejected(
                        "reading a checkpoint",
                        format!("checkpoint of shard {shard} is not a sequence number: {text:?}"),
                    )
                })
            }
            Some(other) => Err(StoreError::rejected(
                "reading a checkpoint",
                format!("checkpoint of shard {shard} is not a string: {other:?}"),
            )),
        }
    }

    async fn apply(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        chunk: &Chunk,
    ) -> Result<Applied, StoreError> {
        if chunk.counters.len() > MAX_COUNTERS {
            return Err(StoreError::rejected(
                "DynamoDB TransactWriteItems",
                format!(
                    "{} counters do not fit one transaction with the checkpoint",
                    chunk.counters.len()
                ),
            ));
        }
        let mut actions = Vec::with_capacity(chunk.counters.len() + 1);
        let checkpoint = self.checkpoint_update(shard, expected, &chunk.last)?;
        actions.push(TransactWriteItem::builder().update(checkpoint).build());
        for (counter, delta) in chunk.counters.iter() {
            let update = Update::builder()
                .table_name(self.table.as_ref())
                .set_key(Some(key(&counter.pk(), &counter.sk())))
                .update_expression("ADD #n :d")
                .expression_attribute_names("#n", COUNT_ATTRIBUTE)
                .expression_attribute_values(":d", AttributeValue::N(delta.to_string()))
                .build()
                .map_err(rejected("DynamoDB Update"))?;
            actions.push(TransactWriteItem::builder().update(update).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Applied::Applied),
            Err(error) => match cancellation(&error) {
                Cancellation::CheckpointMoved => Ok(Applied::CheckpointMoved),
                Cancellation::Retryable => Err(StoreError::unavailable(
                    "DynamoDB TransactWriteItems",
                    error,
                )),
                Cancellation::Other => Err(store_error("DynamoDB TransactWriteItems")(error)),
            },
        }
    }
}

enum Cancellation {
    CheckpointMoved,
    Retryable,
    Other,
}

/// Why a transaction was cancelled, from its reasons (one per action, the checkpoint first).
fn cancellation<R>(error: &SdkError<TransactWriteItemsError, R>) -> Cancellation {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        error.as_service_error()
    else {
        return Cancellation::Other;
    };
    let reasons = cancelled.cancellation_reasons();
    if reasons.first().and_then(|r| r.code()) == Some("ConditionalCheckFailed") {
        Cancellation::CheckpointMoved
    } else if reasons
        .iter()
        .any(|r| r.code().is_some_and(|c| RETRYABLE_REASONS.contains(&c)))
    {
        Cancellation::Retryable
    } else {
        Cancellation::Other
    }
}
