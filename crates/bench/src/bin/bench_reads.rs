//! Read cost per page, as counts: DynamoDB items read, requests made and sequential round trips for
//! page 1 and for a page reached by cursor, at two table sizes, through the read function's own
//! handler. What `total_records` costs (counter items, and the index entries it counts where
//! nothing is maintained) is reported apart, and at a third size for the count alone: moto answers
//! every index query by reading its whole table, so pages of 100,000 events take it minutes.
//!
//! The events are written with raw `BatchWriteItem`, which no count function sees, so after each
//! seed the counters are rebuilt from the table as `audit-log counters rebuild` does (a recount,
//! then the differing counters written).
//!
//! Usage: bench-reads [small, default 1000] [large, default 30000] [count only, default none]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use audit_aws::counters::DynamoCounters;
use audit_aws::Config;
use audit_aws::DynamoReader;
use audit_bench::{events, items_of, put_items, sdk, size};
use audit_domain::auth::{AuthMode, AuthPolicy, Verifier};
use audit_domain::ports::{Metered, ReadCost};
use audit_domain::query::ReadQuery;
use audit_domain::read::{self, ReadContext};
use audit_domain::testing::{MemoryKeys, RecordingQueue};
use audit_infra::{self as infra, InfraSpec, ResourceNames};
use audit_read::{context, ReadHandler};
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;

const SHAPES: [(&str, &[(&str, &str)]); 6] = [
    ("newest first (8 shards merged)", &[]),
    (
        "sort=created_at (8 shards merged)",
        &[("sort", "created_at")],
    ),
    (
        "event_name=service.event_1 (10 names)",
        &[("event_name", "service.event_1")],
    ),
    ("sort=event_name (name walk)", &[("sort", "event_name")]),
    ("customer_id=7", &[("customer_id", "7")]),
    (
        "customer_id=7&event_name=service.event_0 (filtered)",
        &[("customer_id", "7"), ("event_name", "service.event_0")],
    ),
];

async fn seed(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    n: usize,
    seed: u64,
    names: &mut HashSet<String>,
) {
    let items = items_of(&events(n, seed), 8, names);
    let chunks: Vec<Vec<size::Item>> = items.chunks(25).map(<[_]>::to_vec).collect();
    let start = Instant::now();
    put_items(client, table, chunks, 4, |done, total| {
        if done % 400 == 0 {
            eprintln!(
                "bench-reads: seeding {done}/{total} calls ({:.0?})",
                start.elapsed()
            );
        }
    })
    .await;
}

/// Brings the counters to what the table holds, as `audit-log counters rebuild` does; returns the
/// counters written.
async fn rebuild(counters: &DynamoCounters, table: &str) -> usize {
    let (recount, _) = counters
        .recount(table, None, |_| {})
        .await
        .expect("recount the table");
    let comparison = recount.compare();
    counters
        .set_counters(
            comparison.differences.iter().map(|d| (&d.key, d.expected)),
            |_| {},
        )
        .await
        .expect("write the counters");
    comparison.differences.len()
}

async fn get(
    handler: &ReadHandler<DynamoReader, MemoryKeys, RecordingQueue>,
    query: &[(&str, &str)],
) -> (Value, ReadCost) {
    let params: HashMap<String, String> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let request: Request = lambda_http::http::Request::builder()
        .uri("/api/read")
        .body(Body::Empty)
        .unwrap()
        .with_query_string_parameters(params);
    let (response, cost) = handler.handle_metered(request).await;
    assert_eq!(response.status(), 200, "{query:?}");
    let Body::Text(text) = response.body() else {
        panic!("not text")
    };
    (serde_json::from_str(text).unwrap(), cost)
}

async fn measure(handler: &ReadHandler<DynamoReader, MemoryKeys, RecordingQueue>, size: usize) {
    for (label, query) in SHAPES {
        let (first, cost1) = get(handler, query).await;
        let cursor = first["metadata"]["next_cursor"].as_str().map(str::to_owned);
        let cost2 = match cursor {
            Some(c) => Some(get(handler, &[("cursor", c.as_str())]).await.1),
            None => None,
        };
        let page = |c: &ReadCost| {
            format!(
                "{:>4} items {:>3} req {:>2} rt",
                c.items_read, c.requests, c.round_trips
            )
        };
        println!(
            "{size:>7} | {label:<52} | {} | {} | count {:>6} items {:>3} req | total {}",
            page(&cost1),
            cost2
                .as_ref()
                .map(page)
                .unwrap_or_else(|| "     (no next page)      ".into()),
            cost1.count_items_read,
            cost1.count_requests,
            first["metadata"]["total_records"]
        );
    }
}

/// `total_records` alone for every shape, as the read computes it beside its page.
async fn measure_count(reader: &DynamoReader, ctx: &ReadContext, size: usize) {
    for (label, query) in SHAPES {
        let query = ReadQuery::parse(query.iter().copied(), &ctx.tenant, &ctx.cursor_key)
            .expect("a valid query");
        let metered = Metered::new(reader);
        let total = read::total_records(&metered, ctx, &query)
            .await
            .expect("count");
        let cost = metered.cost();
        println!(
            "{size:>7} | {label:<52} | count only: {:>6} items {:>3} req {:>2} rt | total {total}",
            cost.count_items_read, cost.count_requests, cost.round_trips
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    audit_telemetry::init_tracing(audit_aws::Config::from_env()?.log_format);
    let mut args = std::env::args().skip(1);
    let small: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let large: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(30_000);
    let count_only: Option<usize> = args.next().map(|a| a.parse()).transpose()?;
    let sdk = sdk().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let names = ResourceNames::unique("bench-reads");
    let created = infra::ensure(
        &dynamo,
        &sqs,
        &InfraSpec::from_template(infra::TEMPLATE)?,
        &names,
        None,
    )
    .await?;
    let mut config = Config::from_lookup(|_| None)?;
    config.table = created.table.clone();
    let counters = DynamoCounters::new(dynamo.clone(), &created.counters_table);
    let reader = DynamoReader::new(dynamo.clone(), &created.table, &created.counters_table);
    let ctx = context(&config);
    let handler = ReadHandler::new(
        reader.clone(),
        RecordingQueue::default(),
        context(&config),
        // Keyless requests act for the default tenant; key checks are not what is measured.
        Verifier::new(MemoryKeys::default(), AuthPolicy::new(AuthMode::Optional)),
    );
    println!(
        "bench-reads: page_size 20; items read = index entries examined + items fetched; \
         rt = sequential round trips; count = what total_records read (counter items, or index \
         entries for a customer)"
    );
    println!(
        "{:>7} | {:<52} | {:<25} | {:<25} | total_records",
        "events", "query", "page 1", "page 2 by cursor"
    );
    let mut seen = HashSet::new();
    let mut stored = 0;
    for (size, pages) in [(small, true), (large, true)]
        .into_iter()
        .chain(count_only.map(|n| (n, false)))
    {
        let start = Instant::now();
        seed(
            &dynamo,
            &created.table,
            size - stored,
            size as u64,
            &mut seen,
        )
        .await;
        stored = size;
        let written = rebuild(&counters, &created.table).await;
        eprintln!(
            "bench-reads: {size} events stored and {written} counters rebuilt in {:.1?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        if pages {
            measure(&handler, size).await;
        } else {
            measure_count(&reader, &ctx, size).await;
        }
    }
    Ok(())
}
