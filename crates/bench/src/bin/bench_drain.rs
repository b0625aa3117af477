//! Drain throughput against raw `BatchWriteItem` calls of the same items, through the same emulator
//! in one run, and the write units an event costs.
//!
//! Raw: the events' items (and their catalogue entries) in calls of 25, four calls in flight, with
//! `UnprocessedItems` resent. Drain: the same number of events, one per SQS message as single writes
//! send them, in `SqsEvent`s of 100 messages (the template's BatchSize), through the drain handler.
//! Rounds alternate which side goes first; medians are reported.
//!
//! Usage: bench-drain [events per round, default 5000] [rounds, default 3]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_aws::DynamoStore;
use audit_bench::{events, items_of, put_items, sdk, size};
use audit_domain::envelope;
use audit_domain::layout::EventRecord;
use audit_domain::ports::{EventStore, Record, StoreError};
use audit_domain::Event;
use audit_drain::Drain;
use audit_infra::{self as infra, InfraSpec, ResourceNames};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};

/// Counts the store calls the drain makes.
struct Counting {
    inner: DynamoStore,
    calls: Arc<AtomicUsize>,
}

impl EventStore for Counting {
    async fn write(&self, records: Vec<Record>) -> Result<Vec<Record>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.write(records).await
    }
}

/// Calls in flight on the raw side: the drain's own write concurrency (`CONCURRENCY` in
/// functions/drain), so that the two sides differ only in what the drain adds.
const RAW_CONCURRENCY: usize = 4;

/// The raw side: the same work as the drain's writes, as plain `BatchWriteItem` calls.
async fn raw(client: &aws_sdk_dynamodb::Client, table: &str, items: Vec<size::Item>) -> Duration {
    let chunks: Vec<Vec<size::Item>> = items.chunks(25).map(<[_]>::to_vec).collect();
    let start = Instant::now();
    put_items(client, table, chunks, RAW_CONCURRENCY, |_, _| {}).await;
    start.elapsed()
}

async fn drained(store: Counting, shards: u32, events: &[Event]) -> (Duration, usize) {
    let calls = Arc::clone(&store.calls);
    let drain = Drain::new(store, shards);
    let batches: Vec<SqsEvent> = events
        .chunks(100)
        .enumerate()
        .map(|(b, chunk)| {
            let mut event = SqsEvent::default();
            event.records = chunk
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let mut m = SqsMessage::default();
                    m.message_id = Some(format!("{b}-{i}"));
                    m.body = Some(envelope::pack(std::slice::from_ref(e), 1 << 18).remove(0));
                    m
                })
                .collect();
            event
        })
        .collect();
    let start = Instant::now();
    for batch in batches {
        let (response, _) = drain
            .handle(batch, Instant::now() + Duration::from_secs(25))
            .await;
        assert!(
            response.batch_item_failures.is_empty(),
            "drain failed messages"
        );
    }
    let elapsed = start.elapsed();
    (elapsed, calls.load(Ordering::Relaxed))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let sdk = sdk().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let spec = InfraSpec::from_template(infra::TEMPLATE)?;
    let mut tables = Vec::new();
    for side in ["raw", "drain"] {
        let names = ResourceNames::unique(&format!("bench-{side}"));
        tables.push(
            infra::ensure(&dynamo, &sqs, &spec, &names, None)
                .await?
                .table,
        );
    }
    let shards = 8;
    let (mut raw_rates, mut drain_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut calls_per_event = 0.0;
    println!(
        "bench-drain: {n} events a round, {rounds} rounds, through {}",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default()
    );
    for round in 0..rounds {
        let raw_events = events(n, round as u64 * 2);
        let drain_events = events(n, round as u64 * 2 + 1);
        let raw_items = items_of(&raw_events, shards, &mut HashSet::new());
        let store = Counting {
            inner: DynamoStore::new(dynamo.clone(), &tables[1]),
            calls: Arc::default(),
        };
        let (raw_time, (drain_time, calls)) = if round % 2 == 0 {
            let r = raw(&dynamo, &tables[0], raw_items).await;
            (r, drained(store, shards, &drain_events).await)
        } else {
            let d = drained(store, shards, &drain_events).await;
            (raw(&dynamo, &tables[0], raw_items).await, d)
        };
        let (raw_rate, drain_rate) = (
            n as f64 / raw_time.as_secs_f64(),
            n as f64 / drain_time.as_secs_f64(),
        );
        calls_per_event = calls as f64 / n as f64;
        println!(
            "round {}: raw {raw_rate:.0} events/s, drain {drain_rate:.0} events/s, drain/raw {:.2}, BatchWriteItem calls per event {calls_per_event:.3}",
            round + 1,
            drain_rate / raw_rate
        );
        raw_rates.push(raw_rate);
        drain_rates.push(drain_rate);
        ratios.push(drain_rate / raw_rate);
    }
    println!(
        "median: raw {:.0} events/s, drain {:.0} events/s, drain/raw {:.2} (target >= 0.70)",
        median(raw_rates),
        median(drain_rates),
        median(ratios)
    );
    println!("drain BatchWriteItem calls per event: {calls_per_event:.3}");
    write_units(&events(1000, 99), shards);
    Ok(())
}

/// Write units per event, from the item and index-entry sizes, with and without a customer.
fn write_units(events: &[Event], shards: u32) {
    for (label, with_customer) in [("without customer_id", false), ("with customer_id", true)] {
        let units: Vec<usize> = events
            .iter()
            .filter(|e| e.customer_id.is_some() == with_customer)
            .map(|e| {
                let item: size::Item = serde_dynamo::to_item(EventRecord::new(e, shards)).unwrap();
                let (base, indexes) = size::write_units(&item);
                base + indexes.iter().map(|(_, u)| u).sum::<usize>()
            })
            .collect();
        let sizes: Vec<(usize, usize)> = events
            .iter()
            .filter(|e| e.customer_id.is_some() == with_customer)
            .map(|e| {
                let item: size::Item = serde_dynamo::to_item(EventRecord::new(e, shards)).unwrap();
                let indexes = [("tp", &[][..]), ("np", &[][..]), ("cp", &["name_key"][..])]
                    .iter()
                    .filter_map(|(key, projected)| {
                        size::index_entry_size(&item, &[key, "ts"], projected)
                    })
                    .sum::<usize>();
                (size::item_size(&item), indexes)
            })
            .collect();
        let n = sizes.len().max(1) as f64;
        println!(
            "stored bytes per event {label}: item {:.0}, index entries {:.0}",
            sizes.iter().map(|s| s.0).sum::<usize>() as f64 / n,
            sizes.iter().map(|s| s.1).sum::<usize>() as f64 / n
        );
        let max = units.iter().max().copied().unwrap_or(0);
        let mean = units.iter().sum::<usize>() as f64 / units.len().max(1) as f64;
        println!(
            "write units per event {label}: mean {mean:.2}, max {max} (target <= {})",
            if with_customer { 4 } else { 3 }
        );
    }
}
