//! `GET /api/read` and `GET /api/logs/{id}` through the handler, against DynamoDB on the emulator.

use super::{self as common, event, read_app};
use audit_domain::Event;
use serde_json::json;

#[tokio::test]
async fn the_seed_readme_examples_hold() {
    let app = read_app().await;
    app.seed(&[
        event("new customer", Some(7), "2024-01-01T10:00:00Z"),
        event("user_signed_in", None, "2024-01-01T11:00:00Z"),
    ])
    .await;

    let body = app
        .read(&[("sort", "created_at"), ("event_name", "user")])
        .await;
    assert_eq!(body["logs"].as_array().unwrap().len(), 1);
    assert_eq!(body["logs"][0]["event_name"], "user_signed_in");

    let body = app
        .read(&[("sort", "-event_name"), ("page_size", "1"), ("page", "2")])
        .await;
    assert_eq!(body["logs"][0]["event_name"], "new customer");
    assert_eq!(
        body["metadata"],
        json!({"current_page": 2, "page_size": 1, "first_page": 1, "last_page": 2, "total_records": 2})
    );

    let (status, body, _) = app.get("/api/read", &[("sort", "time")]).await;
    assert_eq!(
        (status, body),
        (422, json!({"error": {"sort": "invalid sort value"}}))
    );
    app.remove().await;
}

const NAMES: [&str; 5] = [
    "user.signed_in",
    "User.Signed_Out",
    "new customer",
    "invoice.paid",
    "invoice.void",
];

/// 40 events over names, customers and times; pairs share a `created_at`, so ids break ties.
fn data_set() -> Vec<Event> {
    (0..40u64)
        .map(|i| {
            let customer = [None, Some(1), Some(2)][(i % 3) as usize];
            let at = format!("2024-10-01T{:02}:00:00Z", i / 2);
            event(NAMES[(i % 5) as usize], customer, &at)
        })
        .collect()
}

/// The expected ids, the obvious way: filter, then sort by the whole key.
fn reference(events: &[Event], query: &[(&str, &str)]) -> Vec<String> {
    let get = |k: &str| query.iter().find(|(name, _)| *name == k).map(|(_, v)| *v);
    let prefix = get("event_name").map(str::to_lowercase);
    let customer: Option<u64> = get("customer_id").map(|c| c.parse().unwrap());
    let from = get("from").and_then(audit_domain::time::parse_rfc3339);
    let to = get("to").and_then(audit_domain::time::parse_rfc3339);
    let sort = get("sort").unwrap_or("-created_at");
    let mut kept: Vec<&Event> = events
        .iter()
        .filter(|e| {
            prefix
                .as_ref()
                .is_none_or(|p| e.event_name.key().starts_with(p))
        })
        .filter(|e| customer.is_none_or(|c| e.customer_id == Some(c)))
        .filter(|e| from.is_none_or(|t| e.created_at >= t))
        .filter(|e| to.is_none_or(|t| e.created_at < t))
        .collect();
    let by_name = sort.trim_start_matches('-') == "event_name";
    kept.sort_by_key(|e| {
        let name = if by_name {
            e.event_name.key()
        } else {
            String::new()
        };
        (name, e.created_at, e.id.clone())
    });
    if sort.starts_with('-') {
        kept.reverse();
    }
    kept.iter().map(|e| e.id.to_string()).collect()
}

#[tokio::test]
async fn every_sort_with_filters_and_time_bounds_pages_through_the_reference_list() {
    let app = read_app().await;
    let events = data_set();
    app.seed(&events).await;

    let from = ("from", "2024-10-01T03:00:00Z");
    let to = ("to", "2024-10-01T15:00:00+00:00");
    let filters: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("event_name", "user")],
        vec![("event_name", "INVOICE."), from, to],
        vec![("customer_id", "1")],
        vec![("customer_id", "2"), ("event_name", "user.signed")],
        vec![from, to],
        vec![("customer_id", "1"), from],
    ];
    for filter in &filters {
        for sort in ["created_at", "-created_at", "event_name", "-event_name"] {
            let mut query = filter.clone();
            query.extend([("sort", sort), ("page_size", "3")]);
            let expected = reference(&events, &query);
            assert!(!expected.is_empty(), "{query:?} should match something");

            let (walked, pages) = app.walk(&query).await;
            assert_eq!(walked, expected, "{query:?}");
            let last_page = expected.len().div_ceil(3);
            assert_eq!(pages.len(), last_page, "{query:?}");
            for (number, page) in pages.iter().enumerate() {
                let meta = &page["metadata"];
                assert_eq!(meta["current_page"], number + 1);
                assert_eq!(meta["total_records"], expected.len());
                assert_eq!(meta["last_page"], last_page);
                assert_eq!(
                    meta.get("next_cursor").is_some(),
                    number + 1 < last_page,
                    "{query:?}"
                );
            }

            query.push(("page", "2"));
            let body = app.read(&query).await;
            let page_two: Vec<String> = expected.iter().skip(3).take(3).cloned().collect();
            assert_eq!(common::ids(&[body]), page_two, "{query:?}");
        }
    }
    app.remove().await;
}

#[tokio::test]
async fn nothing_matching_is_an_empty_page() {
    let app = read_app().await;
    app.seed(&data_set()).await;
    let empty = json!({"logs": [], "metadata": {
        "current_page": 1, "page_size": 20, "first_page": 1, "last_page": 1, "total_records": 0
    }});
    let queries: [&[(&str, &str)]; 4] = [
        &[("event_name", "no such event")],
        &[("customer_id", "99")],
        &[("from", "2030-01-01T00:00:00Z")],
        &[("sort", "event_name"), ("to", "2000-01-01T00:00:00Z")],
    ];
    for query in queries {
        assert_eq!(app.read(query).await, empty, "{query:?}");
    }
    app.remove().await;
}

#[tokio::test]
async fn a_cursor_sent_with_other_filters_or_altered_is_refused() {
    let app = read_app().await;
    app.seed(&data_set()).await;
    let query = [
        ("event_name", "user"),
        ("page_size", "2"),
        ("sort", "event_name"),
    ];
    let first = app.read(&query).await;
    let cursor = first["metadata"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same query string beside the cursor is fine, and page numbers follow it.
    let second = app
        .read(&[("cursor", &cursor), ("event_name", "USER"), ("page", "1")])
        .await;
    assert_eq!(second["metadata"]["current_page"], 2);

    let refused = json!({"error": {"cursor": "invalid cursor"}});
    let mut altered = cursor.clone().into_bytes();
    altered[10] ^= 1;
    let altered = String::from_utf8(altered).unwrap();
    let cases: [&[(&str, &str)]; 4] = [
        &[("cursor", &cursor), ("event_name", "invoice")],
        &[("cursor", &cursor), ("sort", "-event_name")],
        &[("cursor", &cursor), ("customer_id", "1")],
        &[("cursor", &altered)],
    ];
    for query in cases {
        let (status, body, _) = app.get("/api/read", query).await;
        assert_eq!((status, body), (422, refused.clone()), "{query:?}");
    }
    app.remove().await;
}

#[tokio::test]
async fn one_log_by_id() {
    let app = read_app().await;
    let mut stored = event("invoice.paid", Some(18), "2024-10-01T10:20:30.123456Z");
    stored.metadata =
        Some(serde_json::from_value(json!({"amount": 12.5, "lines": [1, 2]})).unwrap());
    app.seed(std::slice::from_ref(&stored)).await;

    let (status, body, cost) = app.get(&format!("/api/logs/{}", stored.id), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"log": {
            "id": stored.id.to_string(), "created_at": "2024-10-01T10:20:30.123456Z",
            "event_name": "invoice.paid", "description": "invoice.paid happened",
            "customer_id": 18, "metadata": {"amount": 12.5, "lines": [1, 2]}
        }})
    );
    assert_eq!((cost.requests, cost.items_read), (1, 1));

    let missing = format!("/api/logs/{}", audit_domain::EventId::generate());
    for path in [missing.as_str(), "/api/logs/not-an-id"] {
        let (status, body, _) = app.get(path, &[]).await;
        assert_eq!(
            (status, body),
            (
                404,
                json!({"error": "the requested resource could not be found"})
            )
        );
    }
    app.remove().await;
}

#[tokio::test]
async fn a_customer_sorted_by_name_past_the_limit_is_refused_and_a_narrower_range_is_answered() {
    use audit_domain::read::CUSTOMER_NAME_SORT_LIMIT;
    let app = read_app().await;
    let start = audit_domain::time::parse_rfc3339("2024-01-01T00:00:00Z").unwrap();
    let at = |i: usize| (start + chrono::Duration::milliseconds(100 * i as i64)).to_rfc3339();
    // One customer with one event more than the limit, a tenth of a second apart (so that they
    // need few counters), and another customer.
    let mut events: Vec<Event> = (0..=CUSTOMER_NAME_SORT_LIMIT)
        .map(|i| event(NAMES[i % 5], Some(7), &at(i)))
        .collect();
    events.push(event("other", Some(8), &at(0)));
    app.seed(&events).await;

    let (status, body, cost) = app
        .get("/api/read", &[("customer_id", "7"), ("sort", "event_name")])
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["sort"]
        .as_str()
        .unwrap()
        .contains("narrow it with from and to"));
    assert!(
        cost.items_read <= CUSTOMER_NAME_SORT_LIMIT as u64 + 1,
        "the refusal reads no more than the limit: {cost:?}"
    );

    // The first three minutes hold 1,800 of the customer's events: answered, in name order.
    let to = at(1800);
    let body = app
        .read(&[
            ("customer_id", "7"),
            ("sort", "-event_name"),
            ("to", to.as_str()),
            ("page_size", "100"),
        ])
        .await;
    assert_eq!(body["metadata"]["total_records"], 1800);
    let names: Vec<String> = body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["event_name"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
    // Sorted by time there is no limit.
    let body = app.read(&[("customer_id", "7")]).await;
    assert_eq!(
        body["metadata"]["total_records"],
        CUSTOMER_NAME_SORT_LIMIT as u64 + 1
    );
    app.remove().await;
}
