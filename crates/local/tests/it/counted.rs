//! Counters through the whole runner: events posted to the API are stored by the drain, counted by
//! the count function from the table's stream, and `total_records` and `GET /api/stats` answer
//! what a reference count of the stored events says. An `Idempotency-Key` retry with another body
//! (a MODIFY that moves the event to another name and minute) moves its count with it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use audit_domain::time;
use serde_json::{json, Value};

use crate::common::{spawn_app, TestApp};

const NAMES: [&str; 4] = ["user.login", "user.logout", "invoice.paid", "key.rotated"];

fn at(minute: i64) -> String {
    let start = time::parse_rfc3339("2026-11-30T08:00:00Z").unwrap();
    time::to_rfc3339(&(start + chrono::Duration::seconds(minute * 60 + minute % 7)))
}

async fn get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> Value {
    let response = app
        .http
        .get(format!("{}{path}", app.url))
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path} {query:?}");
    response.json().await.unwrap()
}

async fn post_with_key(app: &TestApp, key: &str, body: &Value) {
    let response = app
        .http
        .post(format!("{}/api/write", app.url))
        .header("Idempotency-Key", key)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn totals_and_stats_agree_with_the_stored_events_after_moves_and_retries() {
    let app = spawn_app().await;
    // 40 events over three hours, four names.
    let batch: Vec<Value> = (0..40)
        .map(|i| {
            json!({
                "event_name": NAMES[i % 4],
                "description": format!("event {i}"),
                "created_at": at((i as i64 * 37) % 180),
            })
        })
        .collect();
    let response = app
        .post("/api/write/batch", &Value::Array(batch).to_string())
        .await;
    assert_eq!(response.status(), 201);
    // One event retried under its key with another name and time: stored once, counted where it
    // is now.
    let first = json!({"event_name": "user.login", "description": "moved", "created_at": at(5)});
    let moved =
        json!({"event_name": "invoice.paid", "description": "moved", "created_at": at(150)});
    post_with_key(&app, "move-1", &first).await;
    assert_eq!(
        app.wait_for_events(41, Duration::from_secs(60)).await.len(),
        41
    );
    post_with_key(&app, "move-1", &moved).await;
    // The same body again: a write that changes nothing counts nothing.
    post_with_key(&app, "move-1", &moved).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let events = app.events().await;
        if events
            .iter()
            .any(|e| e.description == "moved" && e.name_key == "invoice.paid")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(app.wait_for_counters(Duration::from_secs(60)).await);
    let events = app.events().await;
    assert_eq!(events.len(), 41);
    // A move keeps the tenant's total, so wait for the name it moved to.
    let moved_to = events
        .iter()
        .filter(|e| e.name_key == "invoice.paid")
        .count();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let read = get(&app, "/api/read", &[("event_name", "invoice.paid")]).await;
        if read["metadata"]["total_records"] == moved_to {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let reference = |prefix: Option<&str>, from: Option<&str>, to: Option<&str>| {
        events
            .iter()
            .filter(|e| prefix.is_none_or(|p| e.name_key.starts_with(p)))
            .filter(|e| {
                from.is_none_or(|f| {
                    e.created_at.as_str()
                        >= time::to_fixed(&time::parse_rfc3339(f).unwrap()).as_str()
                })
            })
            .filter(|e| {
                to.is_none_or(|t| {
                    e.created_at.as_str()
                        < time::to_fixed(&time::parse_rfc3339(t).unwrap()).as_str()
                })
            })
            .count()
    };
    let from = at(17);
    let to = at(133);
    let cases: Vec<(Option<&str>, Option<&str>, Option<&str>)> = vec![
        (None, None, None),
        (Some("user"), None, None),
        (Some("invoice.paid"), None, None),
        (None, Some(&from), Some(&to)),
        (Some("user.l"), Some(&from), None),
        (None, None, Some(&to)),
    ];
    for (prefix, from, to) in cases {
        let mut query = vec![];
        if let Some(p) = prefix {
            query.push(("event_name", p));
        }
        if let Some(f) = from {
            query.push(("from", f));
        }
        if let Some(t) = to {
            query.push(("to", t));
        }
        let expected = reference(prefix, from, to);
        let read = get(&app, "/api/read", &query).await;
        assert_eq!(read["metadata"]["total_records"], expected, "{query:?}");

        let mut stats_query = query.clone();
        stats_query.push(("interval", "minute"));
        stats_query.push(("from", from.unwrap_or("2026-11-30T07:00:00Z")));
        if to.is_none() {
            stats_query.push(("to", "2026-11-30T12:00:00Z"));
        }
        // The explicit bounds come after the query's own, and the first value counts.
        let stats = get(&app, "/api/stats", &stats_query).await;
        let buckets = stats["buckets"].as_array().unwrap();
        let sum: u64 = buckets.iter().map(|b| b["count"].as_u64().unwrap()).sum();
        assert_eq!(stats["total"], sum, "{query:?}");
        // Every bucket against the reference, minute by minute.
        let mut by_minute: BTreeMap<String, u64> = BTreeMap::new();
        for b in buckets {
            by_minute.insert(
                b["start"].as_str().unwrap()[..16].to_owned(),
                b["count"].as_u64().unwrap(),
            );
        }
        let lo = from.unwrap_or("2026-11-30T07:00:00Z");
        let hi = to.unwrap_or("2026-11-30T12:00:00Z");
        let expected_in_range = reference(prefix, Some(lo), Some(hi));
        assert_eq!(sum as usize, expected_in_range, "{stats_query:?}");
        for e in events
            .iter()
            .filter(|e| prefix.is_none_or(|p| e.name_key.starts_with(p)))
        {
            let minute = &e.created_at[..16];
            if minute >= &lo[..16] && minute < &hi[..16] {
                assert!(
                    by_minute.get(minute).copied().unwrap_or(0) > 0,
                    "{minute} {stats_query:?}"
                );
            }
        }
    }

    // The stats of an hour interval over the same three hours.
    let hours = get(
        &app,
        "/api/stats",
        &[
            ("from", "2026-11-30T08:00:00Z"),
            ("to", "2026-11-30T11:00:00Z"),
        ],
    )
    .await;
    assert_eq!(hours["interval"], "hour");
    assert_eq!(hours["buckets"].as_array().unwrap().len(), 3);
    assert_eq!(hours["total"], 41);

    // The lag: from a 201 to a total_records that counts it.
    let before = get(&app, "/api/read", &[]).await["metadata"]["total_records"]
        .as_u64()
        .unwrap();
    let started = Instant::now();
    let response = app
        .post(
            "/api/write",
            &json!({"event_name": "lag.probe", "description": "lag"}).to_string(),
        )
        .await;
    assert_eq!(response.status(), 201);
    let mut counted = false;
    while started.elapsed() < Duration::from_secs(60) {
        let total = get(&app, "/api/read", &[]).await["metadata"]["total_records"]
            .as_u64()
            .unwrap();
        if total == before + 1 {
            counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(counted, "the new event is counted");
    println!("lag from 201 to total_records: {:?}", started.elapsed());
    app.running.stop().await;
}
