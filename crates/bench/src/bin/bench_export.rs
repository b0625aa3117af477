//! Export throughput beside a cursor walk of `/api/read`, in one run, on one table, through the read
//! function's own handler: events per second, requests and items read for the whole walk of each.
//!
//! Usage: bench-export [events, default 5000]

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use audit_aws::{Config, DynamoReader};
use audit_bench::{events, items_of, put_items, sdk};
use audit_domain::auth::{AuthMode, AuthPolicy, Verifier};
use audit_domain::ports::ReadCost;
use audit_domain::testing::{MemoryKeys, RecordingQueue};
use audit_infra::{self as infra, InfraSpec, ResourceNames};
use audit_read::{context, ReadHandler};
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;

type Handler = ReadHandler<DynamoReader, MemoryKeys, RecordingQueue>;

/// One answer of `path` for `query`: its status, headers and body text, and what it cost.
async fn get(
    handler: &Handler,
    path: &str,
    query: &[(String, String)],
) -> (lambda_http::Response<Body>, ReadCost) {
    let params: HashMap<String, String> = query.iter().cloned().collect();
    let request: Request = lambda_http::http::Request::builder()
        .uri(path)
        .body(Body::Empty)
        .unwrap()
        .with_query_string_parameters(params);
    let (response, cost) = handler.handle_metered(request).await;
    assert_eq!(response.status(), 200, "{path} {query:?}");
    (response, cost)
}

fn text(response: &lambda_http::Response<Body>) -> &str {
    match response.body() {
        Body::Text(text) => text,
        _ => panic!("not text"),
    }
}

struct Walk {
    events: usize,
    answers: usize,
    cost: ReadCost,
    seconds: f64,
    bytes: usize,
}

fn add(total: &mut ReadCost, cost: &ReadCost) {
    total.requests += cost.requests;
    total.items_read += cost.items_read;
    total.count_requests += cost.count_requests;
    total.count_items_read += cost.count_items_read;
}

async fn read_walk(handler: &Handler) -> Walk {
    let start = Instant::now();
    let mut walk = Walk {
        events: 0,
        answers: 0,
        cost: ReadCost::default(),
        seconds: 0.0,
        bytes: 0,
    };
    let mut query = vec![("page_size".to_owned(), "100".to_owned())];
    loop {
        let (response, cost) = get(handler, "/api/read", &query).await;
        add(&mut walk.cost, &cost);
        walk.answers += 1;
        walk.bytes += text(&response).len();
        let page: Value = serde_json::from_str(text(&response)).unwrap();
        walk.events += page["logs"].as_array().unwrap().len();
        match page["metadata"]["next_cursor"].as_str() {
            Some(cursor) => query = vec![("cursor".to_owned(), cursor.to_owned())],
            None => break,
        }
    }
    walk.seconds = start.elapsed().as_secs_f64();
    walk
}

async fn export_walk(handler: &Handler, format: &str) -> Walk {
    let start = Instant::now();
    let mut walk = Walk {
        events: 0,
        answers: 0,
        cost: ReadCost::default(),
        seconds: 0.0,
        bytes: 0,
    };
    let mut query = vec![("format".to_owned(), format.to_owned())];
    loop {
        let (response, cost) = get(handler, "/api/export", &query).await;
        add(&mut walk.cost, &cost);
        walk.answers += 1;
        walk.bytes += text(&response).len();
        walk.events += response.headers()["export-events"]
            .to_str()
            .unwrap()
            .parse::<usize>()
            .unwrap();
        let link = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        match link {
            Some(link) => {
                let target = &link[1..link.find('>').unwrap()];
                let (_, q) = target.split_once('?').unwrap();
                query = q
                    .split('&')
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap();
                        (k.to_owned(), decode(v))
                    })
                    .collect();
            }
            None => break,
        }
    }
    walk.seconds = start.elapsed().as_secs_f64();
    walk
}

/// Percent-decoding of a `Link`'s query value.
fn decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match u8::from_str_radix(text.get(i + 1..i + 3).unwrap_or(""), 16) {
            Ok(b) if bytes[i] == b'%' => {
                out.push(b);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn report(label: &str, walk: &Walk) {
    println!(
        "{label:<28} | {:>6} events | {:>4} answers | {:>8.0} events/s | {:>5} requests | {:>6} items read | {:>4} count req | {:>9} body bytes | {:.2} s",
        walk.events,
        walk.answers,
        walk.events as f64 / walk.seconds,
        walk.cost.requests,
        walk.cost.items_read,
        walk.cost.count_requests,
        walk.bytes,
        walk.seconds
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    audit_telemetry::init_tracing(Config::from_env()?.log_format);
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(5000);
    let sdk = sdk().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let names = ResourceNames::unique("bench-export");
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
    let handler = ReadHandler::new(
        DynamoReader::new(dynamo.clone(), &created.table, &created.counters_table),
        RecordingQueue::default(),
        context(&config),
        Verifier::new(MemoryKeys::default(), AuthPolicy::new(AuthMode::Optional)),
    );
    let items = items_of(&events(n, 7), 8, &mut HashSet::new());
    let chunks: Vec<_> = items.chunks(25).map(<[_]>::to_vec).collect();
    put_items(&dynamo, &created.table, chunks, 4, |_, _| {}).await;

    println!(
        "bench-export: {n} events, newest first, no filter (8 shards merged); one run, same table"
    );
    let read = read_walk(&handler).await;
    report("read walk (page_size 100)", &read);
    let ndjson = export_walk(&handler, "ndjson").await;
    report("export ndjson", &ndjson);
    let csv = export_walk(&handler, "csv").await;
    report("export csv", &csv);
    assert_eq!(read.events, n);
    assert_eq!(ndjson.events, n);
    assert_eq!(csv.events, n);
    infra::remove(&dynamo, &sqs, &created).await;
    Ok(())
}
