//! The read function against the emulator: a read handler on the table of the one `spawn_app`,
//! called directly so that each answer's cost is seen, and seeding by plain `BatchWriteItem`.

mod api;
mod cost;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use audit_aws::DynamoReader;
use audit_aws::DynamoStore;
use audit_domain::auth::{AuthMode, AuthPolicy, Verifier};
use audit_domain::cursor::CursorKey;
use audit_domain::event::{Description, EventName};
use audit_domain::layout::{CatalogueRecord, EventRecord};
use audit_domain::ports::{EventStore, ReadCost, Record, StoreError};
use audit_domain::read::ReadContext;
use audit_domain::testing::{MemoryKeys, RecordingQueue};
use audit_domain::{time, Event, EventId, Tenant};
use audit_infra as infra;

use crate::common::TestApp;
use audit_read::ReadHandler;
use futures::stream::{self, StreamExt, TryStreamExt};
use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;

pub const SHARDS: u32 = 8;
/// BatchWriteItem requests in flight while seeding: one. The emulator numbers stream records with
/// its list length at write time, so writes racing on one table can share a number or be numbered
/// out of order, and the count function then takes a record numbered below its checkpoint for one
/// already applied (4 concurrent writers lost 3 of 10,002 events in one run here).
const SEED_CONCURRENCY: usize = 1;

/// A runner from the one `spawn_app`, with a read handler on its table that tests call directly,
/// so that they see what each answer cost.
pub struct ReadApp {
    app: TestApp,
    handler: ReadHandler<DynamoReader, MemoryKeys, RecordingQueue>,
}

/// A runner with its own table and queues, and a read handler on that table.
pub async fn read_app() -> ReadApp {
    let app = crate::common::spawn_app_sealing(crate::common::test_config(), false).await;
    assert_eq!(app.config.shards, SHARDS);
    let context = ReadContext {
        tenant: Tenant::default(),
        shards: SHARDS,
        cursor_key: CursorKey::new(b"integration".to_vec()),
    };
    // Keyless requests act for the default tenant; `auth.rs` covers keys.
    let handler = ReadHandler::new(
        DynamoReader::new(
            app.dynamo.clone(),
            &app.running.table,
            &app.running.counters_table,
        ),
        RecordingQueue::default(),
        context,
        Verifier::new(MemoryKeys::default(), AuthPolicy::new(AuthMode::Optional)),
    );
    ReadApp { app, handler }
}

/// An event as the write function would stamp it.
pub fn event(name: &str, customer: Option<u64>, created_at: &str) -> Event {
    let created_at = time::parse_rfc3339(created_at).expect("a valid test time");
    Event {
        id: EventId::generate(),
        tenant: Tenant::default(),
        event_name: EventName::parse(name.to_owned()).unwrap(),
        description: Description::parse(format!("{name} happened")).unwrap(),
        customer_id: customer,
        created_at,
        received_at: created_at,
        metadata: None,
        expires_at: None,
    }
}

/// Writes `batch`, resending what comes back unprocessed with a growing pause.
async fn write_all(store: &DynamoStore, mut batch: Vec<Record>) -> Result<(), StoreError> {
    for attempt in 0..10u32 {
        batch = store.write(batch).await?;
        if batch.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
    }
    panic!("the emulator kept items unprocessed");
}

impl ReadApp {
    /// Stores events and their catalogue names as the drain would, through the drain's own store
    /// adapter, a few `BatchWriteItem` calls at a time.
    pub async fn seed(&self, events: &[Event]) {
        let mut seen = HashSet::new();
        let mut records = Vec::new();
        for e in events {
            records.push(Record::Event(EventRecord::new(e, SHARDS)));
            if seen.insert(e.event_name.key()) {
                records.push(Record::Name(CatalogueRecord::new(e)));
            }
        }
        let store = DynamoStore::new(self.app.dynamo.clone(), &self.app.running.table);
        stream::iter(records.chunks(25).map(<[_]>::to_vec))
            .map(|batch| write_all(&store, batch))
            .buffer_unordered(SEED_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await
            .expect("seeding succeeds");
        // total_records comes from the counters, which follow the table's stream.
        assert!(
            self.app.wait_for_counters(Duration::from_secs(120)).await,
            "the count function caught up with the seeded events: {:?}",
            self.app.stored_and_counted().await
        );
    }

    /// `GET path?query` through the handler: status, JSON body, and what it cost.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value, ReadCost) {
        let params: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let request: Request = lambda_http::http::Request::builder()
            .method(Method::GET)
            .uri(path)
            .body(Body::Empty)
            .unwrap()
            .with_query_string_parameters(params);
        let (response, cost) = self.handler.handle_metered(request).await;
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).expect("a JSON answer"),
            other => panic!("unexpected body {other:?}"),
        };
        (response.status().as_u16(), body, cost)
    }

    pub async fn read(&self, query: &[(&str, &str)]) -> Value {
        let (status, body, _) = self.get("/api/read", query).await;
        assert_eq!(status, 200, "{query:?}: {body}");
        body
    }

    /// Follows `next_cursor` from the first page; returns the ids in order and the pages' bodies.
    pub async fn walk(&self, query: &[(&str, &str)]) -> (Vec<String>, Vec<Value>) {
        let mut pages = vec![self.read(query).await];
        while let Some(cursor) = pages.last().unwrap()["metadata"]["next_cursor"]
            .as_str()
            .map(str::to_owned)
        {
            assert!(pages.len() < 1000, "the walk does not end");
            pages.push(self.read(&[("cursor", &cursor)]).await);
        }
        (ids(&pages), pages)
    }

    /// Stops the runner and removes its table and queues.
    pub async fn remove(self) {
        let created = self.app.running.created();
        infra::remove(&self.app.dynamo, &self.app.sqs, &created).await;
        self.app.running.stop().await;
    }
}

pub fn ids(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p["logs"].as_array().unwrap().iter())
        .map(|log| log["id"].as_str().unwrap().to_owned())
        .collect()
}
