//! Shared pieces of the benchmarks: emulator clients, synthetic events, and DynamoDB's size rules.

pub mod size;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use audit_domain::layout::{CatalogueRecord, EventRecord};
use audit_domain::{time, Event, EventId, NewEvent, Tenant};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use serde_json::json;

/// The items the drain would write for `events`: each event's item, and the catalogue entry of each
/// name not in `names` yet (which this adds to).
pub fn items_of(events: &[Event], shards: u32, names: &mut HashSet<String>) -> Vec<size::Item> {
    let mut items = Vec::with_capacity(events.len());
    for event in events {
        items.push(serde_dynamo::to_item(EventRecord::new(event, shards)).unwrap());
        let name = CatalogueRecord::new(event);
        if names.insert(name.sk.clone()) {
            items.push(serde_dynamo::to_item(name).unwrap());
        }
    }
    items
}

/// Writes `chunks` (of at most 25 items) with raw `BatchWriteItem` calls, `concurrency` in flight,
/// resending `UnprocessedItems` at once. `progress(done, total)` is told after each chunk. Returns
/// the calls made.
pub async fn put_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    chunks: Vec<Vec<size::Item>>,
    concurrency: usize,
    progress: impl Fn(usize, usize) + Sync,
) -> usize {
    let calls = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let total = chunks.len();
    stream::iter(chunks)
        .for_each_concurrent(concurrency, |chunk| {
            let (calls, done, progress) = (&calls, &done, &progress);
            async move {
                let mut requests: Vec<WriteRequest> = chunk
                    .into_iter()
                    .map(|item| {
                        let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
                        WriteRequest::builder().put_request(put).build()
                    })
                    .collect();
                while !requests.is_empty() {
                    calls.fetch_add(1, Ordering::Relaxed);
                    let output = client
                        .batch_write_item()
                        .request_items(table, requests)
                        .send()
                        .await
                        .expect("BatchWriteItem");
                    requests = output
                        .unprocessed_items
                        .unwrap_or_default()
                        .remove(table)
                        .unwrap_or_default();
                }
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            }
        })
        .await;
    calls.into_inner()
}

/// SDK config for the emulator named by `AWS_ENDPOINT_URL` (the Makefile sets it).
pub async fn sdk() -> aws_config::SdkConfig {
    let settings = audit_aws::SdkSettings::from_env().expect("AUDIT_SDK_* settings parse");
    audit_aws::sdk_config(&settings).await
}

/// Events of a realistic shape: 20 names, a 100-byte description, a customer (one of 50) on every other one,
/// spread over the last 30 days.
pub fn events(n: usize, seed: u64) -> Vec<Event> {
    let now = time::now();
    (0..n)
        .map(|i| {
            let k = mix((i as u64) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut body = json!({
                "event_name": format!("service.event_{:02}", k % 20),
                "description": format!("{:0<100}", format!("benchmark event {i}")),
                "created_at": time::to_rfc3339(&(now - chrono::Duration::seconds((k % (30 * 86_400)) as i64))),
            });
            if (k >> 32).is_multiple_of(2) {
                body["customer_id"] = json!(k % 50);
            }
            NewEvent::from_json(&body, now).expect("valid").stamp(EventId::generate(), Tenant::default(), now, 0)
        })
        .collect()
}

/// SplitMix64's finaliser: a well-spread pseudo-random number from a counter.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
