//! Every file in `events/` goes through the handler it is for, and its answer is checked, so the
//! fixtures that people feed `cargo lambda invoke --data-file` cannot rot.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common::spawn_app;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::Body;
use serde_json::Value;

/// What each fixture must produce: an HTTP status and the `error` keys a 422 must name, or the
/// message ids an SQS batch must report failed and how many events it must store.
enum Expect {
    Http {
        status: u16,
        error_keys: &'static [&'static str],
    },
    Sqs {
        failed: &'static [&'static str],
        stored: usize,
    },
}

fn expectation(name: &str) -> Expect {
    match name {
        "write-valid.json" => Expect::Http {
            status: 201,
            error_keys: &[],
        },
        "write-invalid.json" => Expect::Http {
            status: 422,
            error_keys: &["customer_id", "description", "event_name"],
        },
        "write-batch.json" => Expect::Http {
            status: 201,
            error_keys: &[],
        },
        "read-filters.json" => Expect::Http {
            status: 200,
            error_keys: &[],
        },
        "read-invalid.json" => Expect::Http {
            status: 422,
            error_keys: &["sort"],
        },
        "read-cursor.json" => Expect::Http {
            status: 200,
            error_keys: &[],
        },
        "sqs-batch.json" => Expect::Sqs {
            failed: &[],
            stored: 3,
        },
        "sqs-poison.json" => Expect::Sqs {
            failed: &["a1b2c3d4-0000-4000-8000-000000000002"],
            stored: 2,
        },
        other => panic!("events/{other} has no expectation here: add one"),
    }
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

#[tokio::test]
async fn every_fixture_gets_the_expected_answer() {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let text = std::fs::read_to_string(events_dir().join(&name)).unwrap();
        // A fresh app per fixture: each SQS fixture's stored count is its own.
        let app = spawn_app().await;
        match expectation(&name) {
            Expect::Http { status, error_keys } => {
                let request =
                    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                let path = request.uri().path().to_owned();
                let response = app.running.routes.pick(&path).call(request).await;
                let body: Value = match response.body() {
                    Body::Text(t) => serde_json::from_str(t).unwrap(),
                    other => panic!("{name}: {other:?}"),
                };
                assert_eq!(response.status().as_u16(), status, "{name}: {body}");
                let mut keys: Vec<&str> = body["error"]
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                keys.sort();
                assert_eq!(keys, error_keys, "{name}: {body}");
            }
            Expect::Sqs { failed, stored } => {
                let event: SqsEvent =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                let (response, _) = app
                    .running
                    .drain
                    .handle(event, Instant::now() + Duration::from_secs(20))
                    .await;
                let reported: Vec<&str> = response
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.as_str())
                    .collect();
                assert_eq!(reported, failed, "{name}");
                assert_eq!(app.events().await.len(), stored, "{name}");
            }
        }
        app.running.stop().await;
    }
}
