//! Write units per event that the counters add, measured on the count function's own handler fed
//! by the runner's stream poller from a real (emulated) table stream: 10 event names, 1,000
//! customers, at 100-record and at 1,000-record stream batches (the mapping's `BatchSize`).
//!
//! Each round writes the events into a fresh table with one writer (so that the emulator numbers the
//! stream records in order), then lets a poller with the round's batch size read the stream into
//! `Count` over a fresh counters table until every event is counted. Write units are the handler's
//! own report: every counter update and every checkpoint is an item of a few dozen bytes written in
//! a `TransactWriteItems`, which DynamoDB bills at 2 units an item under 1 KB. At the end the
//! counters are compared with a recount of the table (what `audit-log counters check` does).
//!
//! Two arrival patterns: live traffic (each event's `created_at` is its arrival time, at a steady
//! rate), and a backfill whose `created_at` values are spread over 30 days, the worst case: every
//! event then falls in its own minute and hour.
//!
//! The backfill rounds are smaller (200 events by default): every one of their events writes about
//! four counters of its own, and moto copies the whole counters table for every action of a
//! `TransactWriteItems`, so 3,000 of them take it over ten minutes. The figure per event does not
//! depend on how many there are, since no two share a minute.
//!
//! Usage: bench-counters [live events a round, default 3000] [live rate in events/s, default 100]
//!        [backfill events a round, default 200]

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_aws::counters::DynamoCounters;
use audit_bench::{items_of, mix, put_items, sdk};
use audit_count::{Count, Invocation};
use audit_domain::{time, Event, EventId, NewEvent, Tenant};
use audit_infra::{self as infra, InfraSpec, ResourceNames};
use audit_local::stream::{BoxError, StreamHandler, StreamPoller};
use chrono::{DateTime, Timelike as _, Utc};
use serde_json::json;
use tokio::sync::watch;

const NAMES: u64 = 10;
const CUSTOMERS: u64 = 1000;
/// What a transactional write of an item under 1 KB costs.
const UNITS_PER_TRANSACTIONAL_ITEM: usize = 2;

/// The count handler, with what its invocations reported added up.
struct Metered {
    count: Count<DynamoCounters>,
    totals: Mutex<Totals>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    invocations: usize,
    records: usize,
    events_counted: usize,
    counters_written: usize,
    transactions: usize,
}

impl StreamHandler for Metered {
    fn handle(
        &self,
        payload: serde_json::Value,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, BoxError>> + Send + '_>> {
        Box::pin(async move {
            let invocation: Invocation = serde_json::from_value(payload)?;
            let (response, report) = self.count.invoke(invocation).await?;
            let mut totals = self.totals.lock().unwrap();
            totals.invocations += 1;
            totals.records += report.records;
            totals.events_counted += report.events_counted;
            totals.counters_written += report.counters_written;
            totals.transactions += report.transactions;
            Ok(response
                .batch_item_failures
                .into_iter()
                .filter_map(|failure| failure.item_identifier)
                .collect())
        })
    }
}

/// `n` events of 10 names, each with one of 1,000 customers, created at `created(i)`.
fn events(n: usize, created: impl Fn(usize, u64) -> DateTime<Utc>) -> Vec<Event> {
    let now = time::now();
    (0..n)
        .map(|i| {
            let k = mix(i as u64);
            let body = json!({
                "event_name": format!("service.event_{}", k % NAMES),
                "description": format!("{:0<100}", format!("benchmark event {i}")),
                "customer_id": (k >> 8) % CUSTOMERS,
                "created_at": time::to_rfc3339(&created(i, k)),
            });
            NewEvent::from_json(&body, now).expect("valid").stamp(
                EventId::generate(),
                Tenant::default(),
                now,
                0,
            )
        })
        .collect()
}

struct Round {
    totals: Totals,
    agrees: bool,
    counters: usize,
    elapsed: Duration,
}

async fn round(sdk: &aws_config::SdkConfig, events: &[Event], batch_size: i32) -> Round {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let names = ResourceNames::unique("bench-counters");
    let spec = InfraSpec::from_template(infra::TEMPLATE).expect("the template parses");
    let created = infra::ensure(&dynamo, &sqs, &spec, &names, None)
        .await
        .expect("create the tables");
    let mut catalogue = HashSet::new();
    let items = items_of(events, 8, &mut catalogue);
    let chunks = items.chunks(25).map(<[_]>::to_vec).collect();
    // One writer: the emulator can number racing writes' stream records out of order.
    put_items(&dynamo, &created.table, chunks, 1, |_, _| {}).await;

    let started = Instant::now();
    let handler = Arc::new(Metered {
        count: Count::new(DynamoCounters::new(dynamo.clone(), &created.counters_table)),
        totals: Mutex::default(),
    });
    let (stop, stopped) = watch::channel(false);
    let poller = StreamPoller {
        dynamo: dynamo.clone(),
        streams: aws_sdk_dynamodbstreams::Client::new(sdk),
        table: created.table.clone(),
        region: sdk
            .region()
            .map_or_else(|| "us-east-1".into(), |r| r.to_string()),
        handler: handler.clone(),
        batch_size,
        idle: Duration::from_millis(100),
        deliveries: 1,
    };
    let task = tokio::spawn(poller.run(stopped));
    let deadline = Instant::now() + Duration::from_secs(600);
    while handler.totals.lock().unwrap().events_counted < events.len() {
        assert!(
            Instant::now() < deadline,
            "bench-counters: the stream was not counted within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    stop.send(true).ok();
    task.await.ok();

    let counters = DynamoCounters::new(dynamo.clone(), &created.counters_table);
    let (recount, _) = counters
        .recount(&created.table, None, |_| {})
        .await
        .expect("recount");
    let comparison = recount.compare();
    let totals = *handler.totals.lock().unwrap();
    Round {
        totals,
        agrees: comparison.agrees(),
        counters: recount.stored_counters(),
        elapsed,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    audit_telemetry::init_tracing(audit_aws::Config::from_env()?.log_format);
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3000);
    let rate: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let backfilled: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let sdk = sdk().await;

    // Live: one event every 1/rate s, from 17 s into a minute (so that batches cross minutes).
    let span = chrono::Duration::seconds((n as u64 / rate.max(1)) as i64 + 60);
    let start = (time::now() - span)
        .with_second(17)
        .and_then(|t| t.with_nanosecond(0))
        .expect("a valid time");
    let step_us = 1_000_000 / rate.max(1) as i64;
    let live = events(n, |i, _| {
        start + chrono::Duration::microseconds(step_us * i as i64)
    });
    let backfill = events(backfilled, |_, k| {
        time::now() - chrono::Duration::seconds((k % (30 * 86_400)) as i64)
    });

    println!(
        "bench-counters: {n} live events a round, {backfilled} backfilled, {NAMES} names, {CUSTOMERS} customers (on every event); \
         write units = 2 x (counter updates + checkpoints), all transactional"
    );
    println!(
        "{:<34} | {:>5} | {:>11} | {:>12} | {:>15} | {:>14} | counters vs recount",
        "arrivals", "batch", "invocations", "transactions", "counter updates", "units / event"
    );
    for (label, events) in [
        (format!("live, {rate} events/s"), &live),
        ("backfill over 30 days".to_owned(), &backfill),
    ] {
        for batch in [100, 1000] {
            let r = round(&sdk, events, batch).await;
            let t = r.totals;
            let units = (t.counters_written + t.transactions) * UNITS_PER_TRANSACTIONAL_ITEM;
            println!(
                "{label:<34} | {batch:>5} | {:>11} | {:>12} | {:>15} | {:>14.3} | {} ({} counters; {} records, counted in {:.1?})",
                t.invocations,
                t.transactions,
                t.counters_written,
                units as f64 / t.events_counted.max(1) as f64,
                if r.agrees { "equal" } else { "DIFFER" },
                r.counters,
                t.records,
                r.elapsed,
            );
        }
    }
    Ok(())
}
