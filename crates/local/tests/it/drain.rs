//! The drain against the real emulator: redelivery, poison messages, unprocessed items and the DLQ.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::spawn_app;
use audit_aws::DynamoStore;
use audit_domain::backoff::Backoff;
use audit_domain::ports::{EventStore, Record, StoreError};
use audit_domain::{envelope, time, Event, EventId, NewEvent, Tenant};
use audit_drain::Drain;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::json;

fn event(name: &str) -> Event {
    let now = time::now();
    NewEvent::from_json(
        &json!({"event_name": name, "description": "stored by the drain test"}),
        now,
    )
    .unwrap()
    .stamp(EventId::generate(), Tenant::default(), now, 0)
}

fn message(id: &str, body: String) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_owned());
    m.body = Some(body);
    m
}

fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = messages;
    e
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

#[tokio::test]
async fn delivering_the_same_message_twice_stores_it_once() {
    let app = spawn_app().await;
    let drain = Drain::new(
        DynamoStore::new(app.dynamo.clone(), &app.running.table),
        app.config.shards,
    );
    let body = envelope::pack(&[event("redelivered")], 1 << 18).remove(0);
    for attempt in 0..2 {
        let (response, _) = drain
            .handle(
                batch(vec![message(&format!("m{attempt}"), body.clone())]),
                deadline(),
            )
            .await;
        assert!(response.batch_item_failures.is_empty());
    }
    // And through the queue: the same body sent twice is two messages carrying one event.
    for _ in 0..2 {
        app.sqs
            .send_message()
            .queue_url(&app.running.queue_url)
            .message_body(&body)
            .send()
            .await
            .unwrap();
    }
    assert!(
        app.wait_for_empty_queue(Duration::from_secs(20)).await,
        "the runner never drained the two messages"
    );
    assert_eq!(app.events().await.len(), 1);
    app.running.stop().await;
}

#[tokio::test]
async fn only_the_undecodable_message_of_ten_is_reported_and_nine_are_stored() {
    let app = spawn_app().await;
    let drain = Drain::new(
        DynamoStore::new(app.dynamo.clone(), &app.running.table),
        app.config.shards,
    );
    let mut messages: Vec<SqsMessage> = (0..9)
        .map(|i| {
            message(
                &format!("good-{i}"),
                envelope::pack(&[event("batch.good")], 1 << 18).remove(0),
            )
        })
        .collect();
    messages.insert(
        3,
        message(
            "poison",
            r#"{"v":1,"events":[{"event_name":""}]}"#.to_owned(),
        ),
    );
    let (response, report) = drain.handle(batch(messages), deadline()).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["poison"]);
    assert_eq!(report.undecodable, 1);
    assert_eq!(app.events().await.len(), 9);
    app.running.stop().await;
}

/// Leaves part of every multi-item call unprocessed, as DynamoDB does under load.
struct Stingy<S> {
    inner: S,
    calls: AtomicUsize,
}

impl<S: EventStore> EventStore for Stingy<S> {
    async fn write(&self, mut records: Vec<Record>) -> Result<Vec<Record>, StoreError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call % 3 == 2 {
            return Err(StoreError::unavailable(
                "injected BatchWriteItem",
                "injected throttling",
            ));
        }
        let keep = records.len().div_ceil(2);
        let left = records.split_off(keep);
        let unprocessed = self.inner.write(records).await?;
        Ok(unprocessed.into_iter().chain(left).collect())
    }
}

#[tokio::test]
async fn unprocessed_items_and_throttling_end_with_everything_stored() {
    let app = spawn_app().await;
    let store = Stingy {
        inner: DynamoStore::new(app.dynamo.clone(), &app.running.table),
        calls: AtomicUsize::new(0),
    };
    let drain = Drain::new(store, app.config.shards).with_retry(Backoff {
        base: Duration::from_millis(2),
        cap: Duration::from_millis(20),
    });
    let events: Vec<Event> = (0..120)
        .map(|i| event(&format!("stingy.{}", i % 5)))
        .collect();
    let messages = events
        .chunks(12)
        .enumerate()
        .map(|(i, chunk)| message(&format!("m{i}"), envelope::pack(chunk, 1 << 18).remove(0)))
        .collect();
    let (response, report) = drain.handle(batch(messages), deadline()).await;
    assert!(response.batch_item_failures.is_empty(), "{report:?}");
    assert!(report.retries > 10, "{report:?}");
    let stored = app.events().await;
    assert_eq!(stored.len(), 120);
    let mut ids: Vec<_> = stored.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    let mut expected: Vec<_> = events.iter().map(|e| e.id.to_string()).collect();
    expected.sort();
    assert_eq!(ids, expected);
    app.running.stop().await;
}

#[tokio::test]
async fn a_poison_message_reaches_the_dead_letter_queue_and_the_rest_are_stored() {
    let app = spawn_app().await;
    let url = &app.running.queue_url;
    app.sqs
        .send_message()
        .queue_url(url)
        .message_body("this is not an event")
        .send()
        .await
        .unwrap();
    for _ in 0..5 {
        let body = envelope::pack(&[event("around.poison")], 1 << 18).remove(0);
        app.sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    // maxReceiveCount is 5 and the test queue's visibility timeout 1 s.
    let start = Instant::now();
    let mut in_dlq = Vec::new();
    while start.elapsed() < Duration::from_secs(30) && in_dlq.is_empty() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let output = app
            .sqs
            .receive_message()
            .queue_url(&app.running.dead_letter_queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        in_dlq = output.messages.unwrap_or_default();
    }
    assert_eq!(
        in_dlq.len(),
        1,
        "the poison message should reach the DLQ within 30 s"
    );
    assert_eq!(in_dlq[0].body.as_deref(), Some("this is not an event"));
    assert_eq!(app.events().await.len(), 5);
    app.running.stop().await;
}
