//! The write handler with no emulator: a recording queue stands in for SQS, a failing one for an
//! outage, and keys live in memory. The same paths are proven against the emulator in
//! `crates/local/tests`.

use super::*;
use audit_domain::auth::{AuthMode, AuthPolicy};
use audit_domain::testing::{FailingQueue, MemoryKeys, RecordingQueue};
use audit_domain::Tenant;
use lambda_http::http::{HeaderValue, Request as HttpRequest};
use serde_json::Value;
use std::sync::atomic::Ordering;

fn handler<Q: EventQueue>(queue: Q, mode: AuthMode) -> WriteHandler<Q, MemoryKeys> {
    WriteHandler::new(
        queue,
        Verifier::new(MemoryKeys::default(), AuthPolicy::new(mode)),
        0,
    )
}

fn post(path: &str, body: &Value, idempotency_key: Option<&str>) -> Request {
    let mut request = HttpRequest::builder()
        .method(Method::POST)
        .uri(path)
        .body(Body::Text(body.to_string()))
        .unwrap();
    if let Some(key) = idempotency_key {
        request
            .headers_mut()
            .insert(IDEMPOTENCY_HEADER, HeaderValue::from_str(key).unwrap());
    }
    request
}

async fn call<Q: EventQueue>(
    handler: &WriteHandler<Q, MemoryKeys>,
    request: Request,
) -> (u16, Value, Response<Body>) {
    let response = handler.handle(request).await;
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("{other:?}"),
    };
    (response.status().as_u16(), body, response)
}

fn event(name: &str) -> Value {
    json!({"event_name": name, "description": "account was created", "customer_id": 7})
}

fn ids(logs: &Value) -> Vec<String> {
    logs.as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_write_answers_201_with_the_log_and_its_location_and_enqueues_it() {
    let h = handler(RecordingQueue::default(), AuthMode::Optional);
    let (status, body, response) = call(&h, post("/api/write", &event("new customer"), None)).await;
    assert_eq!(status, 201);
    let log = &body["log"];
    assert_eq!(log["event_name"], "new customer");
    assert_eq!(log["description"], "account was created");
    assert_eq!(log["customer_id"], 7);
    assert!(log["created_at"].as_str().unwrap().ends_with('Z'));
    let id = log["id"].as_str().unwrap();
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("/api/logs/{id}").as_str()
    );
    let calls = h.queue.calls();
    assert_eq!(calls.len(), 1, "one enqueue per request");
    assert_eq!(calls[0].len(), 1);
    assert_eq!(calls[0][0].id.as_str(), id);
    assert_eq!(calls[0][0].tenant, Tenant::default());
}

#[tokio::test]
async fn a_batch_answers_every_log_in_order_with_no_location() {
    let h = handler(RecordingQueue::default(), AuthMode::Optional);
    let body = json!([event("a"), event("b"), event("c")]);
    let (status, body, response) = call(&h, post("/api/write/batch", &body, None)).await;
    assert_eq!(status, 201);
    let names: Vec<&str> = body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(response.headers().get(header::LOCATION).is_none());
    let queued: Vec<String> = h.queue.events().iter().map(|e| e.id.to_string()).collect();
    assert_eq!(queued, ids(&body["logs"]));
}

#[tokio::test]
async fn an_idempotency_key_derives_the_same_id_per_batch_index() {
    let h = handler(RecordingQueue::default(), AuthMode::Optional);
    let body = json!([event("a"), event("b")]);
    let (_, first, _) = call(&h, post("/api/write/batch", &body, Some("order-42"))).await;
    let (_, again, _) = call(&h, post("/api/write/batch", &body, Some("order-42"))).await;
    let (first, again) = (ids(&first["logs"]), ids(&again["logs"]));
    assert_eq!(first, again, "a retry gets the same ids");
    assert_ne!(first[0], first[1], "each index gets its own id");
    let (_, other, _) = call(&h, post("/api/write/batch", &body, Some("order-43"))).await;
    assert_ne!(ids(&other["logs"])[0], first[0], "another key, other ids");
    // A single write with the key is not batch index 0.
    let (_, single, _) = call(&h, post("/api/write", &event("a"), Some("order-42"))).await;
    assert_ne!(single["log"]["id"].as_str().unwrap(), first[0]);
    let (_, single_again, _) = call(&h, post("/api/write", &event("a"), Some("order-42"))).await;
    assert_eq!(single_again["log"]["id"], single["log"]["id"]);
}

#[tokio::test]
async fn a_queue_failure_is_the_generic_500_and_nothing_is_answered_as_stored() {
    let h = handler(FailingQueue::default(), AuthMode::Optional);
    let (status, body, response) = call(&h, post("/api/write", &event("a"), None)).await;
    assert_eq!(status, 500);
    assert_eq!(
        body,
        json!({"error": "the server encountered a problem and could not process your request"})
    );
    assert!(response.headers().get(header::LOCATION).is_none());
    let (status, body, _) = call(
        &h,
        post("/api/write/batch", &json!([event("a"), event("b")]), None),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.get("logs").is_none(), "no partial answer: {body}");
    assert_eq!(h.queue.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn batches_hold_one_to_a_hundred_events_and_enqueue_nothing_otherwise() {
    let h = handler(RecordingQueue::default(), AuthMode::Optional);
    let (status, body, _) = call(&h, post("/api/write/batch", &json!([]), None)).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["events"], "must contain at least 1 event");
    let too_many = Value::Array(vec![event("a"); MAX_BATCH + 1]);
    let (status, body, _) = call(&h, post("/api/write/batch", &too_many, None)).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["error"]["events"],
        "must not contain more than 100 events"
    );
    let invalid = json!([event("a"), {"event_name": "b"}]);
    let (status, body, _) = call(&h, post("/api/write/batch", &invalid, None)).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["1.description"], "must be provided");
    assert!(h.queue.calls().is_empty(), "all or nothing");
    let full = Value::Array(vec![event("a"); MAX_BATCH]);
    let (status, body, _) = call(&h, post("/api/write/batch", &full, None)).await;
    assert_eq!(status, 201);
    assert_eq!(body["logs"].as_array().unwrap().len(), MAX_BATCH);
    assert_eq!(h.queue.events().len(), MAX_BATCH);
}

#[tokio::test]
async fn routes_methods_and_keys_are_checked_before_anything_is_enqueued() {
    let h = handler(RecordingQueue::default(), AuthMode::Optional);
    let (status, _, _) = call(&h, post("/api/nope", &event("a"), None)).await;
    assert_eq!(status, 404);
    let get = HttpRequest::builder()
        .method(Method::GET)
        .uri("/api/write")
        .body(Body::Empty)
        .unwrap();
    let (status, _, response) = call(&h, get).await;
    assert_eq!(status, 405);
    assert_eq!(response.headers()[header::ALLOW], "POST");
    let required = handler(RecordingQueue::default(), AuthMode::Required);
    let (status, _, _) = call(&required, post("/api/write", &event("a"), None)).await;
    assert_eq!(status, 401);
    let too_long = "k".repeat(129);
    let (status, body, _) = call(&h, post("/api/write", &event("a"), Some(&too_long))).await;
    assert_eq!(status, 400, "{body}");
    assert!(h.queue.calls().is_empty());
    assert!(required.queue.calls().is_empty());
}
