//! `GET /api/export` against the in-memory store: the formats, the caps and `Link`, the 422 of an
//! unknown format, and the record each answer leaves in the tenant's log.

use super::*;
use crate::ReadHandler;
use audit_domain::auth::{issue, AuthMode, AuthPolicy, Scope, Scopes, Verifier};
use audit_domain::cursor::CursorKey;
use audit_domain::testing::{FailingQueue, MemoryKeys, MemoryReader, RecordingQueue};
use audit_domain::Tenant;
use lambda_http::http::{HeaderMap, Method};
use lambda_http::{Request, RequestExt};
use serde_json::Value;

fn ctx() -> ReadContext {
    ReadContext {
        tenant: Tenant::default(),
        shards: 3,
        cursor_key: CursorKey::new(b"unit".to_vec()),
    }
}

fn stored(i: usize, name: &str, description: &str, metadata: Option<Value>) -> Event {
    let at =
        time::parse_rfc3339("2024-03-01T00:00:00Z").unwrap() + chrono::Duration::seconds(i as i64);
    let mut input = json!({"event_name": name, "description": description});
    if let Some(metadata) = metadata {
        input["metadata"] = metadata;
    }
    if i.is_multiple_of(3) {
        input["customer_id"] = json!(i);
    }
    NewEvent::from_json(&input, at)
        .unwrap()
        .stamp(EventId::generate(), Tenant::default(), at, 0)
}

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| stored(i, &format!("user.e{}", i % 4), &format!("event {i}"), None))
        .collect()
}

fn handler<Q: EventQueue>(events: &[Event], queue: Q) -> ReadHandler<MemoryReader, MemoryKeys, Q> {
    let verifier = Verifier::new(MemoryKeys::default(), AuthPolicy::new(AuthMode::Optional));
    ReadHandler::new(MemoryReader::new(events, 3), queue, ctx(), verifier)
}

fn request(params: &[(&str, &str)], headers: &[(&str, &str)]) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(Method::GET)
        .uri("/api/export");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let params: std::collections::HashMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    builder
        .body(Body::Empty)
        .unwrap()
        .with_query_string_parameters(params)
}

fn text(body: &Body) -> &str {
    match body {
        Body::Text(text) => text,
        other => panic!("{other:?}"),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

/// The query parameters of a `Link: </api/export?...>; rel="next"`, decoded.
fn link_params(link: &str) -> Vec<(String, String)> {
    let target = link.strip_prefix('<').unwrap().split('>').next().unwrap();
    let query = target
        .strip_prefix("/api/export?")
        .expect("relative to the API's root");
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (k.to_owned(), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Every answer of an export, following `Link` from `params` to the end.
async fn walk<Q: EventQueue>(
    h: &ReadHandler<MemoryReader, MemoryKeys, Q>,
    params: &[(&str, &str)],
) -> Vec<Response<Body>> {
    let mut answers = Vec::new();
    let mut params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    loop {
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let response = h.handle(request(&pairs, &[])).await;
        assert_eq!(response.status(), 200, "{}", text(response.body()));
        let next = header(response.headers(), "link").map(link_params);
        answers.push(response);
        match next {
            Some(next) => params = next,
            None => return answers,
        }
        assert!(answers.len() < 100, "the export does not end");
    }
}

#[tokio::test]
async fn ndjson_lines_are_the_logs_of_a_read_newest_first() {
    let stored = events(7);
    let h = handler(&stored, RecordingQueue::default());
    let response = h.handle(request(&[], &[])).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(
        header(headers, "content-type"),
        Some("application/x-ndjson; charset=utf-8")
    );
    let disposition = header(headers, "content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"audit-log-default-")
            && disposition.ends_with("Z.ndjson\""),
        "{disposition}"
    );
    assert_eq!(header(headers, "link"), None, "everything fit");
    assert_eq!(header(headers, "export-events"), Some("7"));
    let lines: Vec<Value> = text(response.body())
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<Value> = stored
        .iter()
        .rev()
        .map(|e| serde_json::to_value(e.view()).unwrap())
        .collect();
    assert_eq!(lines, expected);
}

/// Found by the fuzzer: a read filter may name a customer id up to 2^63 − 1, past what a written
/// event may hold, and the export's own record must still be written.
#[tokio::test]
async fn a_customer_id_past_two_to_the_53_is_recorded_as_a_string() {
    for (customer, recorded) in [
        ("9223372036854775806", json!("9223372036854775806")),
        ("9007199254740991", json!(9_007_199_254_740_991u64)),
    ] {
        let h = handler(&events(3), RecordingQueue::default());
        let response = h.handle(request(&[("customer_id", customer)], &[])).await;
        assert_eq!(response.status(), 200, "{customer}");
        let records = h.queue.events();
        assert_eq!(records.len(), 1);
        let metadata = records[0].metadata.as_ref().unwrap().as_map();
        assert_eq!(metadata["filters"]["customer_id"], recorded);
    }
}

#[tokio::test]
async fn csv_round_trips_commas_quotes_line_breaks_and_non_ascii() {
    let tricky = [
        stored(
            0,
            "billing.paid",
            "a, b and \"c\"",
            Some(json!({"note": "x,\"y\"\nz", "città": "Zürich ✓"})),
        ),
        stored(1, "billing.paid", "line one\r\nline two\nthree", None),
        stored(
            2,
            "billing.paid",
            "日本語のテキスト, ünïcödé",
            Some(json!({"n": [1, 2.5, null]})),
        ),
    ];
    let h = handler(&tricky, RecordingQueue::default());
    let response = h
        .handle(request(&[("format", "csv"), ("sort", "created_at")], &[]))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "content-type"),
        Some("text/csv; charset=utf-8; header=present")
    );
    let body = text(response.body());
    assert!(body.starts_with("id,created_at,event_name,description,customer_id,metadata\r\n"));
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        &csv::StringRecord::from(CSV_HEADER.to_vec())
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), tricky.len());
    for (record, event) in records.iter().zip(&tricky) {
        assert_eq!(&record[0], event.id.as_str());
        assert_eq!(&record[1], time::to_rfc3339(&event.created_at));
        assert_eq!(&record[2], event.event_name.as_str());
        assert_eq!(&record[3], event.description.as_str());
        assert_eq!(
            &record[4],
            event.customer_id.map(|c| c.to_string()).unwrap_or_default()
        );
        let metadata =
            (!record[5].is_empty()).then(|| serde_json::from_str::<Value>(&record[5]).unwrap());
        assert_eq!(
            metadata.as_ref(),
            event.metadata.as_ref().map(|m| json!(m.as_map())).as_ref()
        );
    }
}

#[tokio::test]
async fn link_walks_the_rest_with_the_same_filters_and_every_answer_is_recorded() {
    let stored = events(23);
    let limits = ExportLimits {
        max_events: 4,
        ..ExportLimits::DEFAULT
    };
    let h = handler(&stored, RecordingQueue::default()).with_export_limits(limits);
    let params = [
        ("event_name", "USER."),
        ("sort", "-event_name"),
        ("format", "csv"),
        ("page_size", "3"),
    ];
    let answers = walk(&h, &params).await;
    let mut ids = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        let mut reader = csv::Reader::from_reader(text(answer.body()).as_bytes());
        let page: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
        let last = i + 1 == answers.len();
        assert!(last || page.len() == 4, "answer {i} holds {}", page.len());
        ids.extend(page);
        if let Some(link) = header(answer.headers(), "link") {
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            let params = link_params(link);
            let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            assert_eq!(get("event_name"), Some("user."));
            assert_eq!(get("sort"), Some("-event_name"));
            assert_eq!(get("format"), Some("csv"));
        }
    }
    let mut expected: Vec<&Event> = stored.iter().collect();
    expected.sort_by_key(|e| (e.event_name.key(), e.created_at, e.id.clone()));
    expected.reverse();
    let expected: Vec<String> = expected.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(ids, expected);

    let records = h.queue.events();
    assert_eq!(records.len(), answers.len(), "one record per answer");
    let counts: Vec<u64> = records
        .iter()
        .map(|e| {
            e.metadata.as_ref().unwrap().as_map()["events"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 23);
    let first = records[0].metadata.as_ref().unwrap().as_map();
    assert_eq!(records[0].event_name.as_str(), EXPORTED_EVENT);
    assert_eq!(records[0].tenant, Tenant::default());
    assert_eq!(first["filters"]["event_name"], "user.");
    assert_eq!(first["sort"], "-event_name");
    assert_eq!(first["format"], "csv");
    assert_eq!(first["continued"], false);
    assert_eq!(first["more"], true);
    assert_eq!(
        first["key_id"],
        Value::Null,
        "a keyless request has no key id"
    );
    assert_eq!(
        records.last().unwrap().metadata.as_ref().unwrap().as_map()["more"],
        false
    );
}

/// Past the time cap an answer ends at the event in hand (at least one), and `Link` carries on.
#[tokio::test]
async fn the_time_cap_ends_an_answer_and_the_walk_still_gets_every_event() {
    let stored = events(7);
    let limits = ExportLimits {
        max_time: Duration::ZERO,
        ..ExportLimits::DEFAULT
    };
    let h = handler(&stored, RecordingQueue::default()).with_export_limits(limits);
    let answers = walk(&h, &[("page_size", "1")]).await;
    let lines: Vec<usize> = answers
        .iter()
        .map(|a| text(a.body()).lines().count())
        .collect();
    assert_eq!(lines, vec![1; 7]);
}

#[tokio::test]
async fn the_byte_cap_counts_the_body_as_lambda_carries_it() {
    let quoted = "\"".repeat(500);
    let stored: Vec<Event> = (0..40).map(|i| stored(i, "q", &quoted, None)).collect();
    let limits = ExportLimits {
        max_bytes: 40 * 1024,
        ..ExportLimits::DEFAULT
    };
    let h = handler(&stored, RecordingQueue::default()).with_export_limits(limits);
    let answers = walk(&h, &[]).await;
    assert!(answers.len() > 1, "the cap split the export");
    let mut total = 0;
    for answer in &answers {
        let body = text(answer.body());
        let wire = serde_json::to_string(body).unwrap().len();
        assert!(wire <= limits.max_bytes, "{wire} bytes escaped");
        total += body.lines().count();
    }
    assert_eq!(total, 40);
    assert_eq!(escaped_len(b"a\"\\\n\x01\xc3\xa9"), 1 + 2 + 2 + 2 + 6 + 2);
}

#[tokio::test]
async fn an_unknown_format_is_a_422_keyed_by_format_and_nothing_is_recorded() {
    let h = handler(&events(2), RecordingQueue::default());
    let response = h
        .handle(request(&[("format", "xlsx"), ("page_size", "0")], &[]))
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = serde_json::from_str(text(response.body())).unwrap();
    assert_eq!(
        body,
        json!({"error": {"format": "must be one of ndjson, csv", "page_size": "must be greater than zero"}})
    );
    assert!(h.queue.events().is_empty());
}

#[tokio::test]
async fn the_record_names_the_keys_id_never_the_key_and_stays_in_its_tenant() {
    let tenant = Tenant::parse("acme").unwrap();
    let (key, record) = issue(
        tenant.clone(),
        Scopes::from_iter([Scope::Read]),
        None,
        time::now(),
    );
    let keys = MemoryKeys::default();
    keys.insert(record);
    let mut other = stored(1, "acme.thing", "theirs", None);
    other.tenant = tenant.clone();
    let verifier = Verifier::new(keys, AuthPolicy::new(AuthMode::Required));
    let h = ReadHandler::new(
        MemoryReader::new(
            &[
                stored(0, "default.thing", "not theirs", None),
                other.clone(),
            ],
            3,
        ),
        RecordingQueue::default(),
        ctx(),
        verifier,
    );
    let secret = key.expose();
    let response = h
        .handle(request(
            &[],
            &[("authorization", &format!("Bearer {secret}"))],
        ))
        .await;
    assert_eq!(response.status(), 200);
    let lines: Vec<&str> = text(response.body()).lines().collect();
    assert_eq!(lines.len(), 1, "only the key's tenant");
    assert!(lines[0].contains(other.id.as_str()));
    assert!(header(response.headers(), "content-disposition")
        .unwrap()
        .contains("audit-log-acme-"));
    let records = h.queue.events();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].tenant, tenant);
    let metadata = records[0].metadata.as_ref().unwrap().to_json();
    assert!(metadata.contains(key.id().as_str()), "{metadata}");
    assert!(
        !metadata.contains(&secret),
        "the key never reaches the record"
    );
    let unauthenticated = h.handle(request(&[], &[])).await;
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(h.queue.events().len(), 1);
}

#[tokio::test]
async fn an_export_that_cannot_be_recorded_is_not_served() {
    let h = handler(&events(3), FailingQueue::default());
    let response = h.handle(request(&[], &[])).await;
    assert_eq!(response.status(), 500);
    assert!(!text(response.body()).contains("secret"));
}
