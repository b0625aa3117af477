//! The ingest path end to end, against the emulator: HTTP -> write -> SQS -> drain -> DynamoDB.

use std::time::Duration;

use crate::common::spawn_app;
use audit_domain::layout;
use audit_domain::EventId;
use serde_json::{json, Value};

const SEED_BODY: &str = r#"{"event_name":"new customer","description":"account was created for a given identity", "customer_id":18}"#;

#[tokio::test]
async fn a_posted_event_becomes_exactly_one_item_with_every_index_key() {
    let app = spawn_app().await;
    let response = app.post("/api/write", SEED_BODY).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let log = &body["log"];
    let id = EventId::parse(log["id"].as_str().unwrap()).expect("a 26-character id");
    assert_eq!(log["event_name"], "new customer");
    assert_eq!(log["customer_id"], 18);

    let events = app.wait_for_events(1, Duration::from_secs(5)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let stored = &events[0];
    let created_at =
        audit_domain::time::parse_rfc3339(log["created_at"].as_str().unwrap()).unwrap();
    let tenant = audit_domain::Tenant::default();
    assert_eq!(stored.pk, layout::event_pk(&tenant, &id));
    assert_eq!(stored.sk, "E");
    assert_eq!(stored.ts, layout::ts(&created_at, &id));
    assert_eq!(
        stored.tp,
        layout::time_partition(&tenant, layout::shard_of(&id, app.config.shards))
    );
    assert_eq!(stored.np, "default#new customer");
    assert_eq!(stored.cp.as_deref(), Some("default#18"));
    assert_eq!(
        stored.description,
        "account was created for a given identity"
    );

    // The catalogue learnt the name, once.
    let catalogue: Vec<_> = app
        .items()
        .await
        .into_iter()
        .filter(|i| {
            i.get("pk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk == "N#default")
        })
        .collect();
    assert_eq!(catalogue.len(), 1);
    app.running.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_retry_gets_the_same_id_and_one_item() {
    let app = spawn_app().await;
    let send = || async {
        let response = app
            .http
            .post(format!("{}/api/write", app.url))
            .header("Idempotency-Key", "order-1234-created")
            .body(SEED_BODY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["log"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = send().await;
    let second = send().await;
    assert_eq!(first, second);
    // Give the drain time to store both deliveries.
    let events = app.wait_for_events(2, Duration::from_secs(3)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, first);
    app.running.stop().await;
}

#[tokio::test]
async fn a_batch_is_stored_whole() {
    let app = spawn_app().await;
    let batch: Vec<Value> =
        (0..100).map(|i| json!({"event_name": format!("batch.{}", i % 4), "description": format!("event {i}")})).collect();
    let response = app
        .post("/api/write/batch", &Value::Array(batch).to_string())
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["logs"].as_array().unwrap().len(), 100);
    let events = app.wait_for_events(100, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 100);
    app.running.stop().await;
}

#[tokio::test]
async fn an_invalid_batch_stores_nothing() {
    let app = spawn_app().await;
    let batch = json!([
        {"event_name": "ok", "description": "fine"},
        {"event_name": "ok", "description": "fine"},
        {"event_name": "ok", "description": "fine"},
        {"description": "no name"}
    ]);
    let response = app.post("/api/write/batch", &batch.to_string()).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"error": {"3.event_name": "must be provided"}}));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(app.events().await.is_empty());
    app.running.stop().await;
}

#[tokio::test]
async fn the_api_answers_errors_in_the_seed_shapes() {
    let app = spawn_app().await;
    let cases: Vec<(&str, &str, &str, u16)> = vec![
        ("POST", "/api/write", "", 400),
        ("POST", "/api/write", "{", 400),
        ("POST", "/api/write", "{}", 422),
        (
            "POST",
            "/api/write",
            r#"{"event_name":"a","description":"b","extra":1}"#,
            400,
        ),
        (
            "POST",
            "/api/write",
            r#"{"event_name":"a","description":"b","customer_id":-1}"#,
            422,
        ),
        (
            "POST",
            "/api/write",
            r#"{"event_name":"a","description":"b","event_name":"c"}"#,
            400,
        ),
        (
            "POST",
            "/api/write/batch",
            r#"[{"event_name":"a","description":"b","metadata":{"k":1,"k":2}}]"#,
            400,
        ),
        ("GET", "/api/write", "", 405),
        ("PUT", "/api/write/batch", "", 405),
        ("GET", "/nowhere", "", 404),
    ];
    for (method, path, body, status) in cases {
        let response = app
            .http
            .request(method.parse().unwrap(), format!("{}{path}", app.url))
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path} {body}");
        let json: Value = response.json().await.unwrap();
        assert!(json.get("error").is_some(), "{json}");
    }
    let too_big = format!(
        r#"{{"event_name":"a","description":"{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    assert_eq!(app.post("/api/write", &too_big).await.status(), 413);
    let bad_key = app
        .http
        .post(format!("{}/api/write", app.url))
        .header("Idempotency-Key", "")
        .body(SEED_BODY);
    assert_eq!(bad_key.send().await.unwrap().status(), 400);
    app.running.stop().await;
}
