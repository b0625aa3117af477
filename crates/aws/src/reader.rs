//! The read port on DynamoDB: key-condition Queries on the three indexes (keys only), the name
//! catalogue, and `BatchGetItem`/`GetItem` of whole events. Every call is metered (requests, and
//! items read: `ScannedCount` for Queries, items returned for gets), COUNT queries apart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use audit_domain::keys::{self, EventRecord};
use audit_domain::ports::StoreError;
use audit_domain::query::Direction;
use audit_domain::read::{CostMeter, EventReader, Index, IndexQuery, KeyEntry, KeyPage, ReadCost};
use audit_domain::{Event, EventId, Tenant};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Select};
use aws_sdk_dynamodb::Client;
use rand::Rng as _;

use crate::error::{rejected, store_error};

/// BatchGetItem takes at most 100 keys.
const MAX_BATCH_GET: usize = 100;
/// Retries of `UnprocessedKeys` before the read gives up as unavailable.
const MAX_ATTEMPTS: u32 = 8;
const BASE_BACKOFF: Duration = Duration::from_millis(20);
/// With a name filter, `Limit` counts entries examined, not matches, so a small remainder would
/// mean many tiny requests. A Query is billed per 4 KB read, about 30 index entries, so examining
/// at least this many per request costs no more read units and saves round trips.
const FILTERED_MIN_LIMIT: usize = 32;

type Item = HashMap<String, AttributeValue>;

/// Reads events for the read function. Cheap to clone; `metered` gives a handle with its own cost.
#[derive(Clone, Debug)]
pub struct DynamoReader {
    client: Client,
    table: Arc<str>,
    meter: Arc<CostMeter>,
}

impl DynamoReader {
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: Arc::from(table),
            meter: Arc::default(),
        }
    }

    /// A Query with the key condition of `query`; `#t`/`:lo`/`:hi` bound `ts`.
    fn key_query(&self, query: &IndexQuery) -> QueryFluentBuilder {
        let range = &query.range;
        let mut condition = "#p = :p".to_owned();
        let mut request = self
            .client
            .query()
            .table_name(self.table.as_ref())
            .index_name(query.index.name())
            .expression_attribute_names("#p", query.index.partition_attribute())
            .expression_attribute_values(":p", AttributeValue::S(query.partition.clone()))
            .scan_index_forward(query.direction == Direction::Asc);
        match (&range.lo, &range.hi) {
            (Some(_), Some(_)) => condition.push_str(" AND #t BETWEEN :lo AND :hi"),
            (Some(_), None) => condition.push_str(" AND #t >= :lo"),
            (None, Some(_)) => condition.push_str(" AND #t <= :hi"),
            (None, None) => {}
        }
        if range.lo.is_some() || range.hi.is_some() {
            request = request.expression_attribute_names("#t", "ts");
        }
        if let Some(lo) = &range.lo {
            request = request.expression_attribute_values(":lo", AttributeValue::S(lo.clone()));
        }
        if let Some(hi) = &range.hi {
            request = request.expression_attribute_values(":hi", AttributeValue::S(hi.clone()));
        }
        if let Some(prefix) = &query.name_prefix {
            request = request
                .filter_expression("begins_with(#n, :n)")
                .expression_attribute_names("#n", "name_key")
                .expression_attribute_values(":n", AttributeValue::S(prefix.clone()));
        }
        request.key_condition_expression(condition)
    }

    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .build()
            .map_err(rejected)?;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let output = self
                .client
                .batch_get_item()
                .request_items(self.table.as_ref(), pending)
                .send()
                .await
                .map_err(store_error)?;
            let items = output
                .responses
                .unwrap_or_default()
                .remove(self.table.as_ref())
                .unwrap_or_default();
            self.meter.record(1, items.len() as u64);
            found.extend(items);
            match output
                .unprocessed_keys
                .unwrap_or_default()
                .remove(self.table.as_ref())
            {
                Some(left) if !left.keys.is_empty() => pending = left,
                _ => return Ok(found),
            }
        }
        Err(StoreError::Unavailable {
            message: format!("BatchGetItem left keys unprocessed after {MAX_ATTEMPTS} attempts"),
            source: None,
        })
    }
}

/// Exponential backoff with jitter (half to all of the step), so that concurrent readers do not
/// retry in step.
fn backoff(attempt: u32) -> Duration {
    let cap = BASE_BACKOFF * 2u32.pow(attempt.min(6));
    cap.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

fn string(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

fn base_key(tenant: &Tenant, id: &EventId) -> Item {
    HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S(keys::event_pk(tenant, id)),
        ),
        (
            "sk".to_owned(),
            AttributeValue::S(keys::EVENT_SK.to_owned()),
        ),
    ])
}

fn to_event(item: Item) -> Result<Event, StoreError> {
    let record: EventRecord = serde_dynamo::from_item(item).map_err(rejected)?;
    let pk = record.pk.clone();
    record.into_event().ok_or_else(|| StoreError::Rejected {
        message: format!("item {pk} is not an event this service wrote"),
        source: None,
    })
}

fn clamp(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl EventReader for DynamoReader {
    async fn query_keys(&self, query: &IndexQuery) -> Result<KeyPage, StoreError> {
        let with_name = query.index == Index::ByCustomer;
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let mut request = self.key_query(query).set_exclusive_start_key(start.take());
            if let Some(limit) = query.limit {
                let remaining = limit - entries.len();
                let examine = match query.name_prefix {
                    Some(_) => remaining.max(FILTERED_MIN_LIMIT),
                    None => remaining,
                };
                request = request.limit(clamp(examine));
            }
            request = if with_name {
                request.projection_expression("ts, name_key")
            } else {
                request.projection_expression("ts")
            };
            let output = request.send().await.map_err(store_error)?;
            self.meter.record(1, output.scanned_count.max(0) as u64);
            for item in output.items.unwrap_or_default() {
                if query.limit.is_some_and(|limit| entries.len() >= limit) {
                    break;
                }
                let ts = string(&item, "ts").ok_or_else(|| StoreError::Rejected {
                    message: format!("an entry of {} has no ts", query.index.name()),
                    source: None,
                })?;
                let name_key = if with_name {
                    string(&item, "name_key")
                } else {
                    None
                };
                entries.push(KeyEntry { ts, name_key });
            }
            start = output.last_evaluated_key;
            let full = query.limit.is_some_and(|limit| entries.len() >= limit);
            if start.is_none() || full {
                return Ok(KeyPage { entries });
            }
        }
    }

    async fn count(&self, query: &IndexQuery) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let output = self
                .key_query(query)
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error)?;
            self.meter
                .record_count(1, output.scanned_count.max(0) as u64);
            total += output.count.max(0) as u64;
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }

    async fn names(&self, tenant: &Tenant, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .expression_attribute_values(":pk", AttributeValue::S(keys::catalogue_pk(tenant)))
                .projection_expression("sk")
                .set_exclusive_start_key(start.take());
            request = if prefix.is_empty() {
                request.key_condition_expression("pk = :pk")
            } else {
                request
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            };
            let output = request.send().await.map_err(store_error)?;
            self.meter.record(1, output.scanned_count.max(0) as u64);
            names.extend(
                output
                    .items
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|item| string(item, "sk")),
            );
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(names);
            }
        }
    }

    async fn get_many(&self, tenant: &Tenant, ids: &[EventId]) -> Result<Vec<Event>, StoreError> {
        let mut events = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH_GET) {
            let keys = chunk.iter().map(|id| base_key(tenant, id)).collect();
            for item in self.batch_get(keys).await? {
                events.push(to_event(item)?);
            }
        }
        Ok(events)
    }

    async fn get(&self, tenant: &Tenant, id: &EventId) -> Result<Option<Event>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(base_key(tenant, id)))
            .send()
            .await
            .map_err(store_error)?;
        self.meter.record(1, u64::from(output.item.is_some()));
        output.item.map(to_event).transpose()
    }

    fn metered(&self) -> Self {
        Self {
            client: self.client.clone(),
            table: Arc::clone(&self.table),
            meter: Arc::default(),
        }
    }

    fn cost(&self) -> ReadCost {
        self.meter.snapshot()
    }
}
