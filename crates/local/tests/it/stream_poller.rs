//! The runner's stream poller against the emulator's stream: it hands a handler every record once
//! and in order, and with `deliveries` 2 every batch twice in a row (the fault suite's "every batch
//! delivered twice" rests on that).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_infra::{self as infra, InfraSpec, ResourceNames};
use audit_local::stream::{BoxError, StreamHandler, StreamPoller};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::common;

/// Keeps the sequence numbers of each batch it is handed.
#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<Vec<String>>>,
}

impl StreamHandler for Recorder {
    fn handle(
        &self,
        payload: Value,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<Vec<String>, BoxError>> + Send + '_>> {
        let numbers = payload["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                r["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        assert!(
            payload["shardId"].is_string(),
            "the windowed payload names its shard"
        );
        self.batches.lock().unwrap().push(numbers);
        Box::pin(async { Ok(Vec::new()) })
    }
}

async fn deliveries_of(deliveries: usize, items: usize) -> Vec<Vec<String>> {
    let sdk = common::sdk().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let names = ResourceNames::unique("poller");
    let spec = InfraSpec::from_template(infra::TEMPLATE).unwrap();
    let created = infra::ensure(&dynamo, &sqs, &spec, &names, None)
        .await
        .unwrap();
    for i in 0..items {
        dynamo
            .put_item()
            .table_name(&created.table)
            .item("pk", AttributeValue::S(format!("X#{i}")))
            .item("sk", AttributeValue::S("X".into()))
            .send()
            .await
            .unwrap();
    }
    let recorder = Arc::new(Recorder::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(
        StreamPoller {
            dynamo: dynamo.clone(),
            streams: aws_sdk_dynamodbstreams::Client::new(&sdk),
            table: created.table.clone(),
            region: "us-east-1".into(),
            handler: recorder.clone(),
            batch_size: 4,
            idle: Duration::from_millis(50),
            deliveries,
        }
        .run(stopped),
    );
    let start = Instant::now();
    let expected = items.div_ceil(4) * deliveries;
    while recorder.batches.lock().unwrap().len() < expected
        && start.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A little longer, so that a poller delivering too much would show it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(true);
    task.await.unwrap();
    infra::remove(&dynamo, &sqs, &created).await;
    let batches = recorder.batches.lock().unwrap().clone();
    batches
}

#[tokio::test]
async fn the_stream_poller_delivers_every_record_once_in_order() {
    let batches = deliveries_of(1, 10).await;
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
    let all: Vec<u128> = batches
        .concat()
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "in stream order: {all:?}"
    );
}

#[tokio::test]
async fn with_two_deliveries_every_batch_comes_twice_in_a_row() {
    let batches = deliveries_of(2, 10).await;
    assert_eq!(batches.len(), 6, "{batches:?}");
    for pair in batches.chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }
    assert_eq!(batches.iter().step_by(2).map(Vec::len).sum::<usize>(), 10);
}
