//! Routing and error shapes, against the in-memory store and a store that always fails.

use super::*;
use audit_domain::auth::{AuthMode, AuthPolicy};
use audit_domain::testing::{FailingReader, MemoryKeys, MemoryReader, RecordingQueue};
use audit_domain::{time, Event, NewEvent, Tenant};
use lambda_http::http::header;
use serde_json::Value;

fn ctx() -> ReadContext {
    ReadContext {
        tenant: Tenant::default(),
        shards: 4,
        cursor_key: CursorKey::new(b"unit".to_vec()),
    }
}

/// Keyless requests act for the default tenant, as the events below are stored.
fn verifier() -> Verifier<MemoryKeys> {
    Verifier::new(MemoryKeys::default(), AuthPolicy::new(AuthMode::Optional))
}

fn stored(name: &str, at: &str) -> Event {
    let at = time::parse_rfc3339(at).unwrap();
    NewEvent::from_json(&json!({"event_name": name, "description": "d"}), at)
        .unwrap()
        .stamp(EventId::generate(), Tenant::default(), at, 0)
}

fn request(method: Method, path: &str, query: &[(&str, &str)]) -> Request {
    let params: std::collections::HashMap<String, String> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .body(Body::Empty)
        .unwrap()
        .with_query_string_parameters(params)
}

async fn call<R: ReadStore, K: KeyStore, Q: EventQueue>(
    handler: &ReadHandler<R, K, Q>,
    request: Request,
) -> (u16, Value) {
    let response = handler.handle(request).await;
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("{other:?}"),
    };
    (response.status().as_u16(), body)
}

fn handler(events: &[Event]) -> ReadHandler<MemoryReader, MemoryKeys, RecordingQueue> {
    ReadHandler::new(
        MemoryReader::new(events, 4),
        RecordingQueue::default(),
        ctx(),
        verifier(),
    )
}

#[tokio::test]
async fn the_seed_examples_hold() {
    let events = [
        stored("new customer", "2024-01-01T00:00:00Z"),
        stored("user_signed_in", "2024-01-02T00:00:00Z"),
    ];
    let h = handler(&events);
    let (status, body) = call(
        &h,
        request(
            Method::GET,
            "/api/read",
            &[("sort", "created_at"), ("event_name", "user")],
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["logs"][0]["event_name"], "user_signed_in");
    assert_eq!(body["logs"].as_array().unwrap().len(), 1);

    let query = [("sort", "-event_name"), ("page_size", "1"), ("page", "2")];
    let (status, body) = call(&h, request(Method::GET, "/api/read", &query)).await;
    assert_eq!(status, 200);
    assert_eq!(body["logs"][0]["event_name"], "new customer");
    assert_eq!(
        body["metadata"],
        json!({"current_page": 2, "page_size": 1, "first_page": 1, "last_page": 2, "total_records": 2})
    );

    let (status, body) = call(&h, request(Method::GET, "/api/read", &[("sort", "time")])).await;
    assert_eq!(
        (status, body),
        (422, json!({"error": {"sort": "invalid sort value"}}))
    );
}

#[tokio::test]
async fn one_log_by_id_or_404() {
    let event = stored("a", "2024-01-01T00:00:00Z");
    let h = handler(std::slice::from_ref(&event));
    let path = format!("/api/logs/{}", event.id.as_str().to_lowercase());
    let (status, body) = call(&h, request(Method::GET, &path, &[])).await;
    assert_eq!(status, 200);
    assert_eq!(body["log"]["id"], event.id.as_str());

    let not_found = json!({"error": "the requested resource could not be found"});
    for path in [
        format!("/api/logs/{}", EventId::generate()),
        "/api/logs/not-an-id".to_owned(),
        "/api/logs/".to_owned(),
        format!("/api/logs/{}/more", event.id),
        "/api/nope".to_owned(),
        "/viewer".to_owned(),
    ] {
        assert_eq!(
            call(&h, request(Method::GET, &path, &[])).await,
            (404, not_found.clone()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let h = handler(&[]);
    for (method, path) in [
        (Method::POST, "/api/read"),
        (Method::DELETE, "/api/logs/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ] {
        let response = h.handle(request(method.clone(), path, &[])).await;
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[header::ALLOW], "GET");
        let Body::Text(text) = response.body() else {
            panic!()
        };
        let expected = format!("the {method} method is not supported for this resource");
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            json!({ "error": expected })
        );
    }
}

#[tokio::test]
async fn a_trailing_slash_still_routes() {
    let (status, _) = call(&handler(&[]), request(Method::GET, "/api/read/", &[])).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn store_failures_answer_the_generic_500() {
    let h = ReadHandler::new(FailingReader, RecordingQueue::default(), ctx(), verifier());
    let expected = (
        500,
        json!({"error": "the server encountered a problem and could not process your request"}),
    );
    assert_eq!(
        call(&h, request(Method::GET, "/api/read", &[])).await,
        expected
    );
    let path = format!("/api/logs/{}", EventId::generate());
    assert_eq!(call(&h, request(Method::GET, &path, &[])).await, expected);
}

#[tokio::test]
async fn handle_reports_the_cost_it_logs() {
    let events: Vec<Event> = (0..30)
        .map(|_| stored("a", "2024-01-01T00:00:00Z"))
        .collect();
    let h = handler(&events);
    let (response, cost) = h
        .handle_metered(request(Method::GET, "/api/read", &[("page_size", "5")]))
        .await;
    assert_eq!(response.status(), 200);
    // 4 shards x (5 + 1) entries at most, plus 5 items; the total is the tenant's one counter item.
    assert!(cost.items_read <= 4 * 6 + 5, "{cost:?}");
    assert_eq!((cost.count_requests, cost.count_items_read), (1, 1));
    // The shards' queries side by side, then the page's items; the counter read beside them.
    assert_eq!(cost.round_trips, 2, "{cost:?}");

    // A range inside one minute is counted on the index: 4 shards, the 30 entries in it.
    let (response, cost) = h
        .handle_metered(request(
            Method::GET,
            "/api/read",
            &[
                ("from", "2024-01-01T00:00:00Z"),
                ("to", "2024-01-01T00:00:30Z"),
            ],
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!((cost.count_requests, cost.count_items_read), (4, 30));
}

#[tokio::test]
async fn stats_answers_every_bucket_of_the_range_and_refuses_too_many() {
    let events: Vec<Event> = [
        "2024-01-01T00:00:10Z",
        "2024-01-01T00:00:50Z",
        "2024-01-01T00:02:00Z",
    ]
    .iter()
    .map(|at| stored("a", at))
    .collect();
    let h = handler(&events);
    let query = [
        ("interval", "minute"),
        ("from", "2024-01-01T00:00:00Z"),
        ("to", "2024-01-01T00:03:00Z"),
    ];
    let (status, body) = call(&h, request(Method::GET, "/api/stats", &query)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"interval": "minute", "total": 3, "buckets": [
            {"start": "2024-01-01T00:00:00Z", "count": 2},
            {"start": "2024-01-01T00:01:00Z", "count": 0},
            {"start": "2024-01-01T00:02:00Z", "count": 1},
        ]})
    );
    let (status, body) = call(
        &h,
        request(
            Method::GET,
            "/api/stats",
            &[
                ("interval", "minute"),
                ("from", "2024-01-01T00:00:00Z"),
                ("to", "2024-01-02T00:00:00Z"),
            ],
        ),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["interval"].as_str().unwrap().contains("1000"),
        "{body}"
    );
    let (status, body) = call(
        &h,
        request(Method::GET, "/api/stats", &[("interval", "week")]),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"error": {"interval": "must be one of minute, hour, day"}})
        )
    );
}

#[tokio::test]
async fn an_api_gateway_v2_request_routes_with_its_query() {
    let h = handler(&[stored("user_signed_in", "2024-01-01T00:00:00Z")]);
    let fixture = include_str!("../../../events/read-invalid.json");
    let request = lambda_http::request::from_str(fixture).unwrap();
    assert_eq!(
        call(&h, request).await,
        (422, json!({"error": {"sort": "invalid sort value"}}))
    );

    let fixture = include_str!("../../../events/read-filters.json");
    let request = lambda_http::request::from_str(fixture).unwrap();
    let (status, body) = call(&h, request).await;
    assert_eq!(status, 200);
    assert_eq!(body["metadata"]["page_size"], 10);
}

#[test]
fn the_handler_future_is_send_for_lambda_and_the_local_runner() {
    fn is_send<T: Send>(_: &T) {}
    let h = handler(&[]);
    is_send(&h.handle(request(Method::GET, "/api/read", &[])));
}
