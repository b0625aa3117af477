//! `GET /api/export` through the runner: the concatenated answers (following `Link`) equal the
//! cursor walk of `/api/read` for the same query, in order, across filters, sorts and page sizes;
//! the CSV parses back to the stored text; and each answer leaves `audit_log.exported` in the log.

use std::time::Duration;

use crate::common::{spawn_app_with, test_config, TestApp};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Small answers, so that seeded data of a few dozen events takes several, linked.
const MAX_EVENTS: usize = 7;
const SEEDED: usize = 41;

async fn export_app() -> TestApp {
    let mut config = test_config();
    config.export_max_events = MAX_EVENTS;
    spawn_app_with(config).await
}

/// Seeds events under names that start with `exp`, so that queries of them never see the records
/// the exports themselves add.
async fn seed(app: &TestApp) -> Vec<Value> {
    let names = [
        "exp.user.signed_in",
        "Exp.User.Signed_Out",
        "exp.key.rotated",
        "exp.a",
    ];
    let batch: Vec<Value> = (0..SEEDED)
        .map(|i| {
            let mut event = json!({
                "event_name": names[i % names.len()],
                "description": format!("event {i}, \"quoted\"\nnext line: café"),
                // Few distinct times, so that ties are broken by the id.
                "created_at": format!("2026-01-01T00:00:{:02}Z", i % 9),
            });
            if !i.is_multiple_of(3) {
                event["customer_id"] = json!(i % 2);
            }
            if i.is_multiple_of(4) {
                event["metadata"] = json!({"i": i, "ü": "a,b"});
            }
            event
        })
        .collect();
    let response = app
        .post("/api/write/batch", &Value::Array(batch).to_string())
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let stored = app.wait_for_events(SEEDED, Duration::from_secs(30)).await;
    assert_eq!(stored.len(), SEEDED);
    body["logs"].as_array().unwrap().clone()
}

async fn get(app: &TestApp, path_and_query: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path_and_query}", app.url))
        .send()
        .await
        .unwrap()
}

fn query_string(params: &[(&str, String)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    url.query_pairs_mut()
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    url.query().unwrap_or("").to_owned()
}

/// The ids of a cursor walk of `/api/read`.
async fn read_walk(app: &TestApp, params: &[(&str, String)]) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = format!("/api/read?{}", query_string(params));
    loop {
        let page: Value = get(app, &path).await.json().await.unwrap();
        for log in page["logs"].as_array().unwrap() {
            ids.push(log["id"].as_str().unwrap().to_owned());
        }
        match page["metadata"]["next_cursor"].as_str() {
            Some(cursor) => {
                let mut next = params.to_vec();
                next.push(("cursor", cursor.to_owned()));
                path = format!("/api/read?{}", query_string(&next));
            }
            None => return ids,
        }
    }
}

/// The target of a `Link: <...>; rel="next"`.
fn next_link(response: &reqwest::Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().unwrap();
    let target = link.strip_prefix('<')?.split_once(">; rel=\"next\"")?.0;
    Some(target.to_owned())
}

/// Every answer's body, following `Link` from `/api/export?<params>`.
async fn export_walk(app: &TestApp, params: &[(&str, String)]) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut path = format!("/api/export?{}", query_string(params));
    loop {
        let response = get(app, &path).await;
        assert_eq!(response.status(), 200, "{path}");
        let next = next_link(&response);
        bodies.push(response.text().await.unwrap());
        assert!(bodies.len() <= SEEDED + 1, "the export does not end");
        match next {
            Some(next) => path = next,
            None => return bodies,
        }
    }
}

fn ndjson_ids(bodies: &[String]) -> Vec<String> {
    bodies
        .iter()
        .flat_map(|b| b.lines())
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn params_of(
    prefix: Option<&str>,
    customer: Option<u64>,
    from: Option<u32>,
    sort: &str,
    size: Option<u32>,
) -> Vec<(&'static str, String)> {
    let mut params = vec![("sort", sort.to_owned())];
    params.extend(prefix.map(|p| ("event_name", p.to_owned())));
    params.extend(customer.map(|c| ("customer_id", c.to_string())));
    params.extend(from.map(|s| ("from", format!("2026-01-01T00:00:{s:02}Z"))));
    params
        .into_iter()
        .chain(size.map(|s| ("page_size", s.to_string())))
        .collect()
}

#[test]
fn concatenated_export_answers_equal_the_cursor_walk_of_read() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(async {
        let app = export_app().await;
        seed(&app).await;
        app
    });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(12));
    let strategy = (
        prop::sample::select(vec![
            "exp",
            "EXP.USER",
            "exp.user.signed_",
            "exp.a",
            "exp.nothing",
        ]),
        prop::option::of(0u64..2),
        prop::option::of(0u32..9),
        prop::sample::select(vec![
            "created_at",
            "-created_at",
            "event_name",
            "-event_name",
        ]),
        prop::option::of(1u32..12),
    );
    runner
        .run(&strategy, |(prefix, customer, from, sort, size)| {
            // Every query names the seeded prefix (or a customer), so exports' own records stay out.
            let params = params_of(Some(prefix), customer, from, sort, size);
            let (walked, exported) = rt.block_on(async {
                let walked = read_walk(&app, &params).await;
                let bodies = export_walk(&app, &params).await;
                (walked, bodies)
            });
            for body in &exported[..exported.len() - 1] {
                prop_assert_eq!(body.lines().count(), MAX_EVENTS, "a linked answer is full");
            }
            prop_assert_eq!(ndjson_ids(&exported), walked);
            Ok(())
        })
        .unwrap();
    rt.block_on(app.running.stop());
}

#[tokio::test]
async fn the_csv_parses_back_to_the_stored_text_and_each_answer_is_audited() {
    let app = export_app().await;
    let written = seed(&app).await;
    let params = params_of(Some("exp"), None, None, "created_at", None);
    let mut with_format = params.clone();
    with_format.push(("format", "csv".to_owned()));
    let bodies = export_walk(&app, &with_format).await;
    assert_eq!(bodies.len(), SEEDED.div_ceil(MAX_EVENTS));
    let mut records = Vec::new();
    for body in &bodies {
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        assert_eq!(
            reader.headers().unwrap(),
            vec![
                "id",
                "created_at",
                "event_name",
                "description",
                "customer_id",
                "metadata"
            ]
        );
        records.extend(reader.records().map(Result::unwrap));
    }
    let by_id: std::collections::HashMap<&str, &Value> = written
        .iter()
        .map(|w| (w["id"].as_str().unwrap(), w))
        .collect();
    assert_eq!(records.len(), SEEDED);
    for record in &records {
        let log = by_id[&record[0]];
        assert_eq!(&record[1], log["created_at"].as_str().unwrap());
        assert_eq!(&record[2], log["event_name"].as_str().unwrap());
        assert_eq!(&record[3], log["description"].as_str().unwrap());
        assert_eq!(
            &record[4],
            log.get("customer_id")
                .map(|c| c.to_string())
                .unwrap_or_default()
        );
        let metadata =
            (!record[5].is_empty()).then(|| serde_json::from_str::<Value>(&record[5]).unwrap());
        assert_eq!(metadata.as_ref(), log.get("metadata"));
    }
    let ids: Vec<String> = records.iter().map(|r| r[0].to_owned()).collect();
    assert_eq!(ids, read_walk(&app, &params).await);

    // Each answer was recorded in the tenant's log, with the filters and how many it held.
    let answers = bodies.len();
    app.wait_for_events(SEEDED + answers, Duration::from_secs(30))
        .await;
    let recorded: Value = get(
        &app,
        "/api/read?event_name=audit_log.exported&sort=created_at&page_size=100",
    )
    .await
    .json()
    .await
    .unwrap();
    let logs = recorded["logs"].as_array().unwrap();
    assert_eq!(logs.len(), answers, "{recorded}");
    let mut total = 0;
    for log in logs {
        assert_eq!(log["event_name"], "audit_log.exported");
        let metadata = &log["metadata"];
        assert_eq!(metadata["format"], "csv");
        assert_eq!(metadata["filters"]["event_name"], "exp");
        assert_eq!(metadata["sort"], "created_at");
        assert_eq!(metadata["key_id"], Value::Null, "a keyless request");
        total += metadata["events"].as_u64().unwrap();
    }
    assert_eq!(total, SEEDED as u64);
    app.running.stop().await;
}

#[tokio::test]
async fn an_unknown_format_is_a_422_at_format() {
    let app = export_app().await;
    let response = get(&app, "/api/export?format=xml").await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"format": "must be one of ndjson, csv"}})
    );
    app.running.stop().await;
}
