//! Drain behaviour against an in-memory store whose faults the tests choose. The same behaviours
//! are proven against the emulator in `crates/local/tests`.

use super::*;
use audit_domain::backoff::Backoff;
use audit_domain::testing::MemoryStore;
use audit_domain::{time, EventId, NewEvent, Tenant};
use aws_lambda_events::event::sqs::SqsMessage;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

fn event(name: &str) -> audit_domain::Event {
    let now = time::now();
    NewEvent::from_json(&json!({"event_name": name, "description": "d"}), now)
        .unwrap()
        .stamp(EventId::generate(), Tenant::default(), now, 0)
}

fn message(id: &str, body: &str) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_owned());
    m.body = Some(body.to_owned());
    m
}

fn sqs_event(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = messages;
    e
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

fn fast() -> Backoff {
    Backoff {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
    }
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

fn event_count(store: &MemoryStore) -> usize {
    store
        .items
        .lock()
        .unwrap()
        .values()
        .filter(|r| matches!(r, Record::Event(_)))
        .count()
}

#[tokio::test]
async fn only_the_undecodable_message_fails() {
    let drain = Drain::new(MemoryStore::default(), 8);
    let mut messages: Vec<SqsMessage> = (0..9)
        .map(|i| message(&format!("m{i}"), &envelope::pack(&[event("a")], 1 << 18)[0]))
        .collect();
    messages.insert(4, message("poison", "{not json"));
    let (response, report) = drain.handle(sqs_event(messages), soon()).await;
    assert_eq!(failed_ids(&response), vec!["poison"]);
    assert_eq!(event_count(&drain.store), 9);
    assert_eq!(report.undecodable, 1);
}

#[tokio::test]
async fn a_redelivered_message_in_the_same_batch_is_written_once() {
    let drain = Drain::new(MemoryStore::default(), 8);
    let body = envelope::pack(&[event("a"), event("b")], 1 << 18).remove(0);
    let (response, _) = drain
        .handle(
            sqs_event(vec![message("1", &body), message("2", &body)]),
            soon(),
        )
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(event_count(&drain.store), 2);
}

#[tokio::test]
async fn chunks_hold_at_most_25_items() {
    let drain = Drain::new(MemoryStore::default(), 8);
    let events: Vec<_> = (0..100).map(|i| event(&format!("n{}", i % 3))).collect();
    let body = envelope::pack(&events, 1 << 18).remove(0);
    let (response, report) = drain
        .handle(sqs_event(vec![message("1", &body)]), soon())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(drain.store.max_seen.load(Ordering::SeqCst), 25);
    // 100 events and 3 catalogue names.
    assert_eq!(report.items_written, 103);
}

#[tokio::test]
async fn catalogue_names_are_written_once_per_process() {
    let drain = Drain::new(MemoryStore::default(), 8);
    let body = |name: &str| envelope::pack(&[event(name)], 1 << 18).remove(0);
    let (_, first) = drain
        .handle(sqs_event(vec![message("1", &body("Login"))]), soon())
        .await;
    let (_, second) = drain
        .handle(sqs_event(vec![message("2", &body("login"))]), soon())
        .await;
    assert_eq!(first.items_written, 2);
    assert_eq!(second.items_written, 1);
}

#[tokio::test]
async fn unprocessed_items_and_throttling_are_retried_until_written() {
    let store = MemoryStore {
        leave: AtomicUsize::new(3),
        throttle: AtomicUsize::new(3),
        ..MemoryStore::default()
    };
    let drain = Drain::new(store, 8).with_retry(fast());
    let events: Vec<_> = (0..60).map(|_| event("x")).collect();
    let body = envelope::pack(&events, 1 << 18).remove(0);
    let (response, report) = drain
        .handle(sqs_event(vec![message("1", &body)]), soon())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(event_count(&drain.store), 60);
    // Every injected fault was hit, and each cost a retry rather than a lost event.
    assert_eq!(drain.store.throttle.load(Ordering::SeqCst), 0);
    assert_eq!(drain.store.leave.load(Ordering::SeqCst), 0);
    assert!(report.retries >= 5, "{report:?}");
}

#[tokio::test]
async fn an_item_the_store_refuses_fails_only_its_message() {
    let bad = event("bad");
    let refuse = Some(audit_domain::layout::event_pk(&bad.tenant, &bad.id));
    let drain = Drain::new(
        MemoryStore {
            refuse,
            ..MemoryStore::default()
        },
        8,
    )
    .with_retry(fast());
    let good: Vec<SqsMessage> = (0..5)
        .map(|i| {
            message(
                &format!("g{i}"),
                &envelope::pack(&[event("ok")], 1 << 18)[0],
            )
        })
        .collect();
    let mut messages = good;
    messages.push(message("b", &envelope::pack(&[bad], 1 << 18)[0]));
    let (response, _) = drain.handle(sqs_event(messages), soon()).await;
    assert_eq!(failed_ids(&response), vec!["b"]);
    assert_eq!(event_count(&drain.store), 5);
}

#[tokio::test]
async fn a_store_that_stays_down_fails_the_batch_before_the_deadline() {
    let store = MemoryStore {
        throttle: AtomicUsize::new(usize::MAX),
        ..MemoryStore::default()
    };
    let drain = Drain::new(store, 8).with_retry(fast());
    let body = envelope::pack(&[event("x")], 1 << 18).remove(0);
    let deadline = Instant::now() + Duration::from_millis(200);
    let (response, _) = drain
        .handle(sqs_event(vec![message("1", &body)]), deadline)
        .await;
    assert!(Instant::now() <= deadline + Duration::from_millis(50));
    assert_eq!(failed_ids(&response), vec!["1"]);
}

#[test]
fn deadline_keeps_a_margin() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let d = deadline_from_epoch_ms(
        now_ms + 10_000,
        Duration::from_secs(2),
        Duration::from_secs(1),
    );
    let left = d - Instant::now();
    assert!(
        left <= Duration::from_secs(8) && left > Duration::from_millis(7500),
        "{left:?}"
    );
    let fallback =
        deadline_from_epoch_ms(0, Duration::ZERO, Duration::from_secs(3)) - Instant::now();
    assert!(fallback > Duration::from_millis(2900));
}

#[tokio::test]
async fn each_event_item_carries_the_writer_hmac_of_its_log() {
    let key = WriterKey::new("the service's writer key");
    let drain = Drain::new(MemoryStore::default(), 8).with_writer_key(key.clone());
    let events = vec![event("a"), event("b")];
    let body = &envelope::pack(&events, 1 << 18)[0];
    drain
        .handle(sqs_event(vec![message("m", body)]), soon())
        .await;
    let items = drain.store.items.lock().unwrap();
    let mut checked = 0;
    for record in items.values() {
        if let Record::Event(stored) = record {
            let event = stored.clone().into_event().unwrap();
            let bytes = audit_domain::seal::canonical_log(&event).unwrap();
            let mac = stored.mac.as_deref().expect("a mac");
            assert!(key.verifies(&bytes, mac));
            assert!(!WriterKey::development().verifies(&bytes, mac));
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}

/// Counts the `write` calls in flight at once, each held open for a moment.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl EventStore for InFlight {
    async fn write(
        &self,
        _records: Vec<Record>,
    ) -> Result<Vec<Record>, audit_domain::ports::StoreError> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn concurrency_bounds_the_writes_in_flight() {
    // 100 events of one name: 101 items, 5 chunks of 25.
    let messages: Vec<SqsMessage> = (0..100)
        .map(|i| message(&format!("m{i}"), &envelope::pack(&[event("a")], 1 << 18)[0]))
        .collect();
    for (concurrency, expected) in [(None, CONCURRENCY), (Some(1), 1), (Some(2), 2)] {
        let mut drain = Drain::new(InFlight::default(), 8);
        if let Some(n) = concurrency {
            drain = drain.with_concurrency(n);
        }
        let (response, _) = drain.handle(sqs_event(messages.clone()), soon()).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            drain.store.most.load(Ordering::SeqCst),
            expected,
            "{concurrency:?}"
        );
    }
}
