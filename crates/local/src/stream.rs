//! The DynamoDB stream event source mapping half of the runner, as Lambda polls a table's stream for
//! the count function: `DescribeStream`, `GetShardIterator` and `GetRecords`, one shard at a time and
//! in order, each batch handed over as the tumbling-window event Lambda would send (with its
//! `shardId`). A shard's position moves past a batch only once the handler has taken all of it; a
//! partial batch response or a failure delivers again from the first record not taken. The position
//! lives in memory: a runner killed mid-batch starts again from the trim horizon, and the handler's
//! own checkpoint skips what it had applied, as it does when Lambda delivers a batch twice.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

/// The cause of a failed batch, for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A stream function as the poller calls it: the invocation payload in, the sequence numbers of the
/// records it did not take (`batchItemFailures`) out.
pub trait StreamHandler: Send + Sync + 'static {
    fn handle(
        &self,
        payload: Value,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, BoxError>> + Send + '_>>;
}

/// The tumbling window the template gives the stream functions, in seconds: only its boundaries are
/// sent (the functions keep no window state).
const WINDOW_SECONDS: i64 = 900;
/// How long a failed batch waits before it is delivered again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

pub struct StreamPoller<H: ?Sized> {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub table: String,
    pub region: String,
    pub handler: Arc<H>,
    /// Records per batch (`BatchSize` of the mapping).
    pub batch_size: i32,
    /// The pause after a poll that found nothing new.
    pub idle: Duration,
    /// Times each batch is handed over; the last delivery's answer is the one acted on. More than 1
    /// is a fault injected for tests: every batch delivered again, as a Lambda retry would.
    pub deliveries: usize,
}

/// Where one shard is read from next.
struct Position {
    iterator: Option<String>,
    /// Closed and read to its end.
    done: bool,
}

impl<H: StreamHandler + ?Sized> StreamPoller<H> {
    /// Runs until `stop` turns true. Failing calls are logged and retried after a pause.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut shards: BTreeMap<String, Position> = BTreeMap::new();
        let mut stream_arn = None;
        loop {
            if *stop.borrow() {
                break;
            }
            let found_work = match &stream_arn {
                None => {
                    stream_arn = self.stream_arn().await;
                    if let Some(arn) = &stream_arn {
                        tracing::info!(stream = %arn, "reading the table's stream");
                    }
                    false
                }
                Some(arn) => self.poll_once(arn, &mut shards).await,
            };
            if !found_work {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tokio::time::sleep(self.idle) => {}
                }
            }
        }
        tracing::info!("stream poller stopped");
    }

    async fn stream_arn(&self) -> Option<String> {
        match self
            .dynamo
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => out.table.and_then(|t| t.latest_stream_arn),
            Err(error) => {
                tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&error), "describe table failed");
                None
            }
        }
    }

    /// One pass over the stream's shards; true when some shard had records.
    async fn poll_once(&self, arn: &str, shards: &mut BTreeMap<String, Position>) -> bool {
        match self.streams.describe_stream().stream_arn(arn).send().await {
            Ok(out) => {
                for shard in out
                    .stream_description
                    .map(|d| d.shards.unwrap_or_default())
                    .unwrap_or_default()
                {
                    if let Some(id) = shard.shard_id {
                        shards.entry(id).or_insert(Position {
                            iterator: None,
                            done: false,
                        });
                    }
                }
            }
            Err(error) => {
                tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&error), "describe stream failed");
                return false;
            }
        }
        let mut found = false;
        for (shard, position) in shards.iter_mut().filter(|(_, p)| !p.done) {
            found |= self.poll_shard(arn, shard, position).await;
        }
        found
    }

    async fn iterator(&self, arn: &str, shard: &str, at: Option<&str>) -> Option<String> {
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard);
        let request = match at {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        match request.send().await {
            Ok(out) => out.shard_iterator,
            Err(error) => {
                tracing::warn!(shard, error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&error), "get shard iterator failed");
                None
            }
        }
    }

    /// Reads one batch of `shard` and delivers it; true when it held records.
    async fn poll_shard(&self, arn: &str, shard: &str, position: &mut Position) -> bool {
        if position.iterator.is_none() {
            position.iterator = self.iterator(arn, shard, None).await;
        }
        let Some(iterator) = position.iterator.clone() else {
            return false;
        };
        let output = match self
            .streams
            .get_records()
            .shard_iterator(&iterator)
            .limit(self.batch_size)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                tracing::warn!(shard, error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&error), "get records failed; starting the shard again");
                // The handler's checkpoint makes a second delivery of what it took harmless.
                position.iterator = None;
                return false;
            }
        };
        let records = output.records.unwrap_or_default();
        if records.is_empty() {
            match output.next_shard_iterator {
                Some(next) => position.iterator = Some(next),
                None => position.done = true,
            }
            return false;
        }
        let first = records[0]
            .dynamodb
            .as_ref()
            .and_then(|r| r.sequence_number.clone());
        let payload = self.payload(arn, shard, &records);
        for _ in 1..self.deliveries {
            if let Err(error) = self.handler.handle(payload.clone()).await {
                tracing::warn!(shard, error = %audit_telemetry::error_chain(error.as_ref()), "an extra delivery failed");
            }
        }
        match self.handler.handle(payload).await {
            Ok(failed) if failed.is_empty() => match output.next_shard_iterator {
                Some(next) => position.iterator = Some(next),
                None => position.done = true,
            },
            Ok(failed) => {
                tracing::warn!(shard, from = %failed[0], "batch partly taken; delivering again from the first record not taken");
                position.iterator = self.iterator(arn, shard, Some(&failed[0])).await;
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(error) => {
                tracing::warn!(shard, error = %audit_telemetry::error_chain(error.as_ref()), "stream batch failed; delivering it again");
                position.iterator = self.iterator(arn, shard, first.as_deref()).await;
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
        true
    }

    /// The invocation payload Lambda sends a stream function with a tumbling window.
    fn payload(&self, arn: &str, shard: &str, records: &[Record]) -> Value {
        let now = chrono::Utc::now().timestamp();
        let start = now - now.rem_euclid(WINDOW_SECONDS);
        let window = |at: i64| {
            chrono::DateTime::from_timestamp(at, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        json!({
            "Records": records.iter().map(|r| self.record(arn, r)).collect::<Vec<_>>(),
            "window": {"start": window(start), "end": window(start + WINDOW_SECONDS)},
            "state": {},
            "shardId": shard,
            "eventSourceARN": arn,
            "isFinalInvokeForWindow": false,
            "isWindowTerminatedEarly": false,
        })
    }

    fn record(&self, arn: &str, record: &Record) -> Value {
        let mut change = Map::new();
        if let Some(r) = &record.dynamodb {
            if let Some(at) = r.approximate_creation_date_time {
                change.insert(
                    "ApproximateCreationDateTime".into(),
                    json!(at.as_secs_f64().floor()),
                );
            }
            for (name, image) in [
                ("Keys", &r.keys),
                ("NewImage", &r.new_image),
                ("OldImage", &r.old_image),
            ] {
                if let Some(image) = image {
                    change.insert(name.into(), item_json(image));
                }
            }
            change.insert("SequenceNumber".into(), json!(r.sequence_number));
            change.insert("SizeBytes".into(), json!(r.size_bytes.unwrap_or(0)));
            change.insert(
                "StreamViewType".into(),
                json!(r.stream_view_type.as_ref().map(|v| v.as_str())),
            );
        }
        let mut out = json!({
            "eventID": record.event_id,
            "eventName": record.event_name.as_ref().map(|n| n.as_str()),
            "eventVersion": record.event_version.as_deref().unwrap_or("1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.aws_region.as_deref().unwrap_or(&self.region),
            "dynamodb": change,
            "eventSourceARN": arn,
        });
        if let Some(identity) = &record.user_identity {
            out["userIdentity"] = json!({
                "type": identity.r#type,
                "principalId": identity.principal_id,
            });
        }
        out
    }
}

/// An item in DynamoDB's JSON, as Lambda writes stream images.
fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect(),
    )
}

fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => json!({"B": STANDARD.encode(b.as_ref())}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::M(m) => json!({"M": item_json(m)}),
        AttributeValue::L(l) => json!({"L": l.iter().map(attribute_json).collect::<Vec<_>>()}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::Bs(v) => {
            json!({"BS": v.iter().map(|b| STANDARD.encode(b.as_ref())).collect::<Vec<_>>()})
        }
        _ => Value::Null,
    }
}
