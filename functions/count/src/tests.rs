//! The count handler against the in-memory store: the fixtures in `events/stream/` (as Lambda
//! delivers them), then redelivery, failures between transactions, lost answers and bisection,
//! each checked against counts worked out independently of the handler.

use super::*;
use audit_domain::counters::MemoryCounters;
use audit_domain::event::{Description, EventName};
use audit_domain::{time, Event, EventId, Tenant};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

type Counts = BTreeMap<(String, String), i64>;

fn fixture(name: &str) -> Invocation {
    let text = match name {
        "insert" => include_str!("../../../events/stream/stream-insert.json"),
        "modify-move" => include_str!("../../../events/stream/stream-modify-move.json"),
        "modify-equal" => include_str!("../../../events/stream/stream-modify-equal.json"),
        "remove-ttl" => include_str!("../../../events/stream/stream-remove-ttl.json"),
        "non-events" => include_str!("../../../events/stream/stream-non-events.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn deliver<S: CounterStore>(
    count: &Count<S>,
    name: &str,
) -> (DynamoDbEventResponse, CountReport) {
    let invocation = fixture(name);
    let shard = invocation.shard().expect("fixtures are windowed events");
    count.handle(&shard, invocation.records).await.unwrap()
}

fn counts(entries: &[(&str, &str, i64)]) -> Counts {
    entries
        .iter()
        .map(|(pk, sk, n)| ((pk.to_string(), sk.to_string()), *n))
        .collect()
}

fn shard() -> ShardId {
    fixture("insert").shard().unwrap()
}

#[tokio::test]
async fn an_insert_counts_six_counters_up_by_one() {
    let count = Count::new(MemoryCounters::default());
    let (response, report) = deliver(&count, "insert").await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        (
            report.events_counted,
            report.counters_written,
            report.transactions
        ),
        (1, 6, 1)
    );
    let name = "C#default#user.signed_in";
    assert_eq!(
        count.store().counters(),
        counts(&[
            ("C#default", "H#2026-11-30T02", 1),
            ("C#default", "M#2026-11-30T02:30", 1),
            ("C#default", "T", 1),
            (name, "H#2026-11-30T02", 1),
            (name, "M#2026-11-30T02:30", 1),
            (name, "T", 1),
        ])
    );
    assert_eq!(
        count.store().checkpoint_of(&shard()).unwrap().unpadded(),
        "400000000000000000101"
    );
}

#[tokio::test]
async fn a_modify_that_moves_name_and_minute_moves_the_counts() {
    let count = Count::new(MemoryCounters::default());
    deliver(&count, "insert").await;
    let (_, report) = deliver(&count, "modify-move").await;
    // Tenant total and hour cancel out; the tenant's two minutes and both names' three counters move.
    assert_eq!((report.counters_written, report.transactions), (8, 1));
    let name = "C#default#user.signed_out";
    assert_eq!(
        count.store().counters(),
        counts(&[
            ("C#default", "H#2026-11-30T02", 1),
            ("C#default", "M#2026-11-30T02:31", 1),
            ("C#default", "T", 1),
            (name, "H#2026-11-30T02", 1),
            (name, "M#2026-11-30T02:31", 1),
            (name, "T", 1),
        ])
    );
}

#[tokio::test]
async fn a_modify_with_equal_images_counts_nothing_and_writes_nothing() {
    let count = Count::new(MemoryCounters::default());
    deliver(&count, "insert").await;
    deliver(&count, "modify-move").await;
    let before = count.store().counters();
    let calls = count.store().apply_calls();
    let (response, report) = deliver(&count, "modify-equal").await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((report.events_counted, report.transactions), (0, 0));
    assert_eq!(count.store().counters(), before);
    assert_eq!(count.store().apply_calls(), calls);
}

#[tokio::test]
async fn a_remove_by_ttl_takes_the_event_out_of_its_counts() {
    let removal = fixture("remove-ttl");
    let identity = removal.records[0].user_identity.as_ref().unwrap();
    assert_eq!(
        (identity.type_.as_str(), identity.principal_id.as_str()),
        ("Service", "dynamodb.amazonaws.com")
    );
    let count = Count::new(MemoryCounters::default());
    for name in ["insert", "modify-move", "modify-equal", "remove-ttl"] {
        let (response, _) = deliver(&count, name).await;
        assert!(response.batch_item_failures.is_empty(), "{name}");
    }
    assert_eq!(count.store().counters(), Counts::new());
    assert_eq!(
        count.store().checkpoint_of(&shard()).unwrap().unpadded(),
        "400000000000000000401"
    );
}

#[tokio::test]
async fn items_that_are_not_events_count_nothing() {
    let count = Count::new(MemoryCounters::default());
    let (response, report) = deliver(&count, "non-events").await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(report.records, 6);
    assert_eq!((report.events_counted, report.transactions), (0, 0));
    assert_eq!(count.store().counters(), Counts::new());
    // Not even a checkpoint: writing one would come back on the stream as another such batch.
    assert_eq!(count.store().checkpoint_of(&shard()), None);
}

#[test]
fn the_fixtures_hold_exactly_what_the_drain_writes() {
    let mut images = 0;
    for name in ["insert", "modify-move", "modify-equal", "remove-ttl"] {
        for record in fixture(name).records {
            for item in [record.change.old_image, record.change.new_image] {
                if item.is_empty() {
                    continue;
                }
                let stored: StoredEvent = serde_dynamo::from_item(item).unwrap();
                let event = stored.clone().into_event().expect("a valid event");
                assert_eq!(StoredEvent::new(&event, 8), stored, "{name}");
                images += 1;
            }
        }
    }
    assert_eq!(images, 6);
}

#[test]
fn the_shard_comes_from_the_windowed_payload() {
    assert_eq!(shard().as_str(), "shardId-00000001795996800000-4c1d2e3f");
    let plain: Invocation = serde_json::from_value(json!({"Records": []})).unwrap();
    assert!(matches!(plain.shard(), Err(CountError::NoShard)));
    let bad: Invocation = serde_json::from_value(json!({"Records": [], "shardId": ""})).unwrap();
    assert!(matches!(bad.shard(), Err(CountError::BadShard(_))));
}

#[test]
fn the_windowed_answer_carries_the_state_lambda_requires() {
    let mut response = DynamoDbEventResponse::default();
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = Some("400000000000000000101".into());
    response.batch_item_failures.push(failure);
    assert_eq!(
        serde_json::to_value(windowed_response(response)).unwrap(),
        json!({"state": {}, "batchItemFailures": [{"itemIdentifier": "400000000000000000101"}]})
    );
}

#[tokio::test]
async fn a_record_without_a_sequence_number_is_refused() {
    let mut invocation = fixture("insert");
    invocation.records[0].change.sequence_number = None;
    let count = Count::new(MemoryCounters::default());
    let result = count.handle(&shard(), invocation.records).await;
    assert!(matches!(result, Err(CountError::NoSequenceNumber { .. })));
}

// ---------------------------------------------------------------- generated batches

fn base() -> DateTime<Utc> {
    time::parse_rfc3339("2026-11-30T02:00:00Z").unwrap()
}

fn seq_text(n: usize) -> String {
    (500_000_000_000_000_000_000u128 + n as u128).to_string()
}

/// An event as the drain stores it.
fn stored(id: &EventId, name: &str, minute: i64) -> StoredEvent {
    let created_at = base() + Duration::minutes(minute) + Duration::microseconds(17);
    let event = Event {
        id: id.clone(),
        tenant: Tenant::default(),
        event_name: EventName::parse(name.to_owned()).unwrap(),
        description: Description::parse("generated".into()).unwrap(),
        customer_id: Some(7),
        created_at,
        received_at: created_at,
        metadata: None,
        expires_at: None,
    };
    StoredEvent::new(&event, 8)
}

fn stream_record(n: usize, old: Option<&StoredEvent>, new: Option<&StoredEvent>) -> EventRecord {
    let mut record = EventRecord::default();
    record.event_id = format!("{n:032x}");
    record.event_name = match (old, new) {
        (None, _) => "INSERT",
        (Some(_), Some(_)) => "MODIFY",
        (Some(_), None) => "REMOVE",
    }
    .to_owned();
    record.change.sequence_number = Some(seq_text(n));
    if let Some(old) = old {
        record.change.old_image = serde_dynamo::to_item(old).unwrap();
    }
    if let Some(new) = new {
        record.change.new_image = serde_dynamo::to_item(new).unwrap();
    }
    record
}

/// `n` inserts, each a new name over three minutes (so that every record adds three counters and a
/// batch needs several transactions: the tenant's 5 counters and 31 names' 93 fill one).
fn inserts(n: usize) -> (Vec<EventRecord>, Vec<StoredEvent>) {
    let events: Vec<StoredEvent> = (0..n)
        .map(|i| stored(&EventId::generate(), &format!("Name.{i}"), (i % 3) as i64))
        .collect();
    let records = events
        .iter()
        .enumerate()
        .map(|(i, e)| stream_record(i, None, Some(e)))
        .collect();
    (records, events)
}

/// The counts of the live items, worked out from their fields with no help from the domain.
fn oracle<'a>(live: impl IntoIterator<Item = &'a StoredEvent>) -> Counts {
    let mut counts = Counts::new();
    for e in live {
        let created = time::from_fixed(&e.created_at).unwrap();
        let hour = format!("H#{}", created.format("%Y-%m-%dT%H"));
        let minute = format!("M#{}", created.format("%Y-%m-%dT%H:%M"));
        for pk in [
            format!("C#{}", e.tenant),
            format!("C#{}#{}", e.tenant, e.name_key),
        ] {
            for sk in ["T".to_owned(), hour.clone(), minute.clone()] {
                *counts.entry((pk.clone(), sk)).or_default() += 1;
            }
        }
    }
    counts.retain(|_, n| *n != 0);
    counts
}

fn failed_at(response: &DynamoDbEventResponse) -> Option<&str> {
    response
        .batch_item_failures
        .first()
        .and_then(|f| f.item_identifier.as_deref())
}

#[tokio::test]
async fn a_batch_delivered_twice_is_applied_once() {
    let (records, events) = inserts(100);
    let count = Count::new(MemoryCounters::default());
    let (_, first) = count.handle(&shard(), records.clone()).await.unwrap();
    assert_eq!((first.transactions, first.events_counted), (4, 100));
    let (response, again) = count.handle(&shard(), records).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((again.transactions, again.skipped_applied), (0, 100));
    assert_eq!(count.store().counters(), oracle(&events));
}

#[tokio::test]
async fn a_failure_after_the_first_transaction_is_completed_exactly_on_redelivery() {
    let (records, events) = inserts(100);
    let store = MemoryCounters::default();
    store.fail_apply(2);
    let count = Count::new(store);
    let (response, report) = count.handle(&shard(), records.clone()).await.unwrap();
    assert_eq!(report.transactions, 1);
    // The first transaction took 31 records; the failure names the 32nd, where Lambda resumes.
    assert_eq!(failed_at(&response), Some(seq_text(31).as_str()));
    assert_eq!(report.unapplied, 69);
    assert_ne!(count.store().counters(), oracle(&events));

    let (response, again) = count.handle(&shard(), records).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(again.skipped_applied, 31);
    assert_eq!(again.events_counted, 69);
    assert_eq!(count.store().counters(), oracle(&events));
}

#[tokio::test]
async fn a_bisected_redelivery_of_a_half_applied_batch_is_exact() {
    let (records, events) = inserts(100);
    let store = MemoryCounters::default();
    store.fail_apply(2);
    let count = Count::new(store);
    let (response, _) = count.handle(&shard(), records.clone()).await.unwrap();
    assert!(failed_at(&response).is_some());
    // Bisection: the first half (31 applied, 19 not) and then the second half.
    let (first_half, second_half) = records.split_at(50);
    let (response, first) = count.handle(&shard(), first_half.to_vec()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((first.skipped_applied, first.events_counted), (31, 19));
    let (response, second) = count.handle(&shard(), second_half.to_vec()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((second.skipped_applied, second.events_counted), (0, 50));
    assert_eq!(count.store().counters(), oracle(&events));
}

#[tokio::test]
async fn a_transaction_whose_answer_was_lost_is_not_applied_again() {
    let (records, events) = inserts(40);
    let store = MemoryCounters::default();
    store.lose_reply_of_apply(1);
    let count = Count::new(store);
    let (response, report) = count.handle(&shard(), records.clone()).await.unwrap();
    assert_eq!(failed_at(&response), Some(seq_text(0).as_str()));
    assert_eq!(report.transactions, 0);
    let (response, again) = count.handle(&shard(), records).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(again.skipped_applied, 31);
    assert_eq!(count.store().counters(), oracle(&events));
}

/// Serves a stale (empty) checkpoint on the first read, as if another invocation had applied the
/// batch after this one looked.
struct StaleOnce<'a> {
    inner: &'a MemoryCounters,
    served: AtomicBool,
}

impl CounterStore for StaleOnce<'_> {
    async fn checkpoint(&self, shard: &ShardId) -> Result<Option<SequenceNumber>, StoreError> {
        if self.served.swap(true, Ordering::SeqCst) {
            self.inner.checkpoint(shard).await
        } else {
            Ok(None)
        }
    }

    async fn apply(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        chunk: &audit_domain::counters::Chunk,
    ) -> Result<Applied, StoreError> {
        self.inner.apply(shard, expected, chunk).await
    }
}

#[tokio::test]
async fn a_checkpoint_moved_by_another_invocation_is_reread_and_respected() {
    let (records, events) = inserts(80);
    let store = MemoryCounters::default();
    Count::new(&store)
        .handle(&shard(), records[..50].to_vec())
        .await
        .unwrap();
    let stale = Count::new(StaleOnce {
        inner: &store,
        served: AtomicBool::new(false),
    });
    let (response, report) = stale.handle(&shard(), records).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(report.checkpoint_moved, 1);
    assert_eq!((report.skipped_applied, report.events_counted), (50, 30));
    assert_eq!(store.counters(), oracle(&events));
}

/// Found by the property below in CI: an event stored and removed within one batch cancels out,
/// and the batch must still move the checkpoint past both records. Otherwise a later delivery of
/// the removal alone (a bisected half) takes away a count that was never there.
#[tokio::test]
async fn records_that_cancel_out_still_move_the_checkpoint() {
    let id = EventId::generate();
    let first = stored(&id, "Name.0", 0);
    let second = stored(&id, "Name.0", 0);
    let records = [
        stream_record(0, None, Some(&first)),
        stream_record(1, Some(&first), None),
        stream_record(2, None, Some(&second)),
    ];
    let store = MemoryCounters::default();
    let count = Count::new(&store);
    count.handle(&shard(), records[..1].to_vec()).await.unwrap();
    // The removal and the second insert cancel out.
    let (response, report) = count.handle(&shard(), records[1..].to_vec()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((report.transactions, report.counters_written), (1, 0));
    assert_eq!(
        store.checkpoint_of(&shard()).unwrap().unpadded(),
        seq_text(2)
    );
    // The removal delivered again on its own counts nothing.
    let (_, report) = count
        .handle(&shard(), records[1..2].to_vec())
        .await
        .unwrap();
    assert_eq!((report.skipped_applied, report.transactions), (1, 0));
    assert_eq!(store.counters(), oracle([&second]));
}

#[tokio::test]
async fn out_of_order_and_repeated_records_count_once_in_stream_order() {
    let (mut records, events) = inserts(70);
    records.reverse();
    records.extend(records[..10].to_vec());
    let count = Count::new(MemoryCounters::default());
    let (response, report) = count.handle(&shard(), records).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(report.events_counted, 70);
    assert_eq!(count.store().counters(), oracle(&events));
    assert_eq!(
        count.store().checkpoint_of(&shard()).unwrap().unpadded(),
        seq_text(69)
    );
}

/// One write to one of a few items: put it with a name and minute, or delete it.
#[derive(Debug, Clone)]
enum Op {
    Put {
        item: usize,
        name: usize,
        minute: i64,
    },
    Delete {
        item: usize,
    },
    /// A catalogue entry, which counts nothing.
    Catalogue,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..12usize, 0..45usize, 0..4i64).prop_map(|(item, name, minute)| Op::Put { item, name, minute }),
        2 => (0..12usize).prop_map(|item| Op::Delete { item }),
        1 => Just(Op::Catalogue),
    ]
}

/// The stream records of `ops`, with correct old and new images, and the items left at the end.
fn history(ops: &[Op]) -> (Vec<EventRecord>, Vec<StoredEvent>) {
    let ids: Vec<EventId> = (0..12).map(|_| EventId::generate()).collect();
    let mut live: Vec<Option<StoredEvent>> = vec![None; 12];
    let mut records = Vec::new();
    for op in ops {
        let n = records.len();
        match *op {
            Op::Put { item, name, minute } => {
                let new = stored(&ids[item], &format!("Name.{name}"), minute);
                records.push(stream_record(n, live[item].as_ref(), Some(&new)));
                live[item] = Some(new);
            }
            Op::Delete { item } => {
                if let Some(old) = live[item].take() {
                    records.push(stream_record(n, Some(&old), None));
                }
            }
            Op::Catalogue => {
                let mut record = EventRecord::default();
                record.event_name = "INSERT".into();
                record.change.sequence_number = Some(seq_text(n));
                record.change.new_image = serde_dynamo::to_item(json!({
                    "pk": "N#default", "sk": format!("name.{n}"), "event_name": format!("Name.{n}")
                }))
                .unwrap();
                records.push(record);
            }
        }
    }
    (records, live.into_iter().flatten().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However the event source mapping delivers (retries from the reported record, bisected
    /// halves, redelivery of what was already acknowledged) and whichever transactions fail before
    /// or after writing, the counters end equal to the live items' counts.
    #[test]
    fn any_delivery_with_any_faults_counts_exactly(
        ops in proptest::collection::vec(op(), 1..160),
        starts in proptest::collection::vec(any::<proptest::sample::Index>(), 40),
        ends in proptest::collection::vec(any::<proptest::sample::Index>(), 40),
        failing in proptest::collection::btree_set(1..30usize, 0..8),
        losing in proptest::collection::btree_set(1..30usize, 0..8),
    ) {
        let (records, live) = history(&ops);
        let store = MemoryCounters::default();
        failing.iter().for_each(|&n| store.fail_apply(n));
        losing.iter().for_each(|&n| store.lose_reply_of_apply(n));
        let count = Count::new(&store);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let total = records.len();
        // The mapping's own position: every record before it has been acknowledged.
        let mut position = 0;
        let mut deliveries = 0;
        while position < total {
            // Scripted deliveries first (possibly from before the position, possibly a prefix),
            // then whole retries from the position until everything is acknowledged.
            let (start, end) = match (starts.get(deliveries), ends.get(deliveries)) {
                (Some(s), Some(e)) => {
                    let start = s.index(position + 1);
                    (start, start + 1 + e.index(total - start))
                }
                _ => (position, total),
            };
            deliveries += 1;
            prop_assert!(deliveries < 200, "delivery does not converge");
            let batch = records[start..end].to_vec();
            let (response, _) = runtime.block_on(count.handle(&shard(), batch)).unwrap();
            match failed_at(&response) {
                None => position = position.max(end),
                Some(text) => {
                    let at = records
                        .iter()
                        .position(|r| r.change.sequence_number.as_deref() == Some(text))
                        .unwrap();
                    prop_assert!(at >= start && at < end);
                    position = position.max(at);
                }
            }
        }
        prop_assert_eq!(store.counters(), oracle(&live));
    }
}
