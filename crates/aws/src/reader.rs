//! The read ports on DynamoDB: key-condition Queries on the three indexes (keys only), the name
//! catalogue, and `BatchGetItem`/`GetItem` of whole events. Every answer says what it cost
//! (requests, and items read: `ScannedCount` for Queries, items returned for gets).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_domain::backoff::Backoff;
use audit_domain::counters::range::BucketRun;
use audit_domain::layout::{self, EventRecord};
use audit_domain::ports::{
    CounterReader, EventLookup, Index, IndexQuery, IndexReader, KeyEntry, KeyPage, Measured,
    NameCatalogue, StoreError,
};
use audit_domain::query::Direction;
use audit_domain::{Event, EventId, Tenant};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Select};
use aws_sdk_dynamodb::Client;

use crate::counters::DynamoCounters;
use crate::error::{rejected, store_error};

/// BatchGetItem takes at most 100 keys.
const MAX_BATCH_GET: usize = 100;
/// Retries of `UnprocessedKeys`: the read function's timeout is 10 s, so a page gives up well
/// within it and answers 500 rather than time out.
const UNPROCESSED_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(20),
    cap: Duration::from_secs(1),
};
const UNPROCESSED_BUDGET: Duration = Duration::from_secs(4);
/// With a name filter, `Limit` counts entries examined, not matches, so a small remainder would
/// mean many tiny requests. A Query is billed per 4 KB read, about 30 index entries, so examining
/// at least this many per request costs no more read units and saves round trips.
const FILTERED_MIN_LIMIT: usize = 32;

type Item = HashMap<String, AttributeValue>;

/// Reads events for the read function. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DynamoReader {
    client: Client,
    table: Arc<str>,
    counters: DynamoCounters,
}

impl DynamoReader {
    /// A reader of the events table `table` and of the counters in `counters_table`.
    pub fn new(client: Client, table: &str, counters_table: &str) -> Self {
        Self {
            counters: DynamoCounters::new(client.clone(), counters_table),
            client,
            table: Arc::from(table),
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

    /// The items of `keys`, retrying what DynamoDB leaves unprocessed; with the requests made.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<(Vec<Item>, u64), StoreError> {
        const OPERATION: &str = "DynamoDB BatchGetItem";
        let mut found = Vec::with_capacity(keys.len());
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .build()
            .map_err(rejected(OPERATION))?;
        let mut retries = UNPROCESSED_BACKOFF.until(Instant::now() + UNPROCESSED_BUDGET);
        let mut requests = 0;
        loop {
            let output = self
                .client
                .batch_get_item()
                .request_items(self.table.as_ref(), pending)
                .send()
                .await
                .map_err(store_error(OPERATION))?;
            requests += 1;
            found.extend(
                output
                    .responses
                    .unwrap_or_default()
                    .remove(self.table.as_ref())
                    .unwrap_or_default(),
            );
            match output
                .unprocessed_keys
                .unwrap_or_default()
                .remove(self.table.as_ref())
            {
                Some(left) if !left.keys.is_empty() => pending = left,
                _ => return Ok((found, requests)),
            }
            let Some(delay) = retries.next_delay() else {
                return Err(StoreError::unavailable(
                    OPERATION,
                    format!(
                        "keys still unprocessed after {} retries",
                        retries.attempts()
                    ),
                ));
            };
            tokio::time::sleep(delay).await;
        }
    }
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
            AttributeValue::S(layout::event_pk(tenant, id)),
        ),
        (
            "sk".to_owned(),
            AttributeValue::S(layout::EVENT_SK.to_owned()),
        ),
    ])
}

fn to_event(item: Item) -> Result<Event, StoreError> {
    const OPERATION: &str = "reading an event item";
    let record: EventRecord = serde_dynamo::from_item(item).map_err(rejected(OPERATION))?;
    let pk = record.pk.clone();
    record.into_event().ok_or_else(|| {
        StoreError::rejected(
            OPERATION,
            format!("item {pk} is not an event this service wrote"),
        )
    })
}

fn clamp(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl IndexReader for DynamoReader {
    async fn query_keys(&self, query: &IndexQuery) -> Result<Measured<KeyPage>, StoreError> {
        let with_name = query.index == Index::ByCustomer;
        let mut entries = Vec::new();
        let (mut requests, mut examined) = (0, 0);
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
            let output = request
                .send()
                .await
                .map_err(store_error("DynamoDB Query"))?;
            requests += 1;
            examined += output.scanned_count.max(0) as u64;
            for item in output.items.unwrap_or_default() {
                if query.limit.is_some_and(|limit| entries.len() >= limit) {
                    break;
                }
                let ts = string(&item, "ts").ok_or_else(|| {
                    StoreError::rejected(
                        "DynamoDB Query",
                        format!("an entry of {} has no ts", query.index.name()),
                    )
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
                return Ok(Measured::new(KeyPage { entries }, requests, examined));
            }
        }
    }

    async fn count(&self, query: &IndexQuery) -> Result<Measured<u64>, StoreError> {
        let (mut total, mut requests, mut examined) = (0u64, 0, 0);
        let mut start = None;
        loop {
            let output = self
                .key_query(query)
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error("DynamoDB Query (COUNT)"))?;
            requests += 1;
            examined += output.scanned_count.max(0) as u64;
            total += output.count.max(0) as u64;
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(Measured::new(total, requests, examined));
            }
        }
    }
}

/// Counter items are read with the counter store's own queries.
impl CounterReader for DynamoReader {
    async fn counter_total(&self, partition: &str) -> Result<Measured<i64>, StoreError> {
        let found = self.counters.get_total(partition).await?;
        Ok(Measured::new(found.sum, found.requests, found.items_read))
    }

    async fn counter_run(
        &self,
        partition: &str,
        run: &BucketRun,
    ) -> Result<Measured<BTreeMap<i64, i64>>, StoreError> {
        let (lo, hi) = run.sk_range();
        let (found, cost) = self.counters.buckets(partition, &lo, &hi).await?;
        let by_index = found
            .into_iter()
            .filter_map(|(bucket, n)| Some((bucket.index_in(run.kind)?, n)))
            .collect();
        Ok(Measured::new(by_index, cost.requests, cost.items_read))
    }
}

impl NameCatalogue for DynamoReader {
    async fn names(
        &self,
        tenant: &Tenant,
        prefix: &str,
    ) -> Result<Measured<Vec<String>>, StoreError> {
        let mut names = Vec::new();
        let (mut requests, mut examined) = (0, 0);
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .expression_attribute_values(":pk", AttributeValue::S(layout::catalogue_pk(tenant)))
                .projection_expression("sk")
                .set_exclusive_start_key(start.take());
            request = if prefix.is_empty() {
                request.key_condition_expression("pk = :pk")
            } else {
                request
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            };
            let output = request
                .send()
                .await
                .map_err(store_error("DynamoDB Query (catalogue)"))?;
            requests += 1;
            examined += output.scanned_count.max(0) as u64;
            names.extend(
                output
                    .items
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|item| string(item, "sk")),
            );
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(Measured::new(names, requests, examined));
            }
        }
    }
}

impl EventLookup for DynamoReader {
    async fn get_many(
        &self,
        tenant: &Tenant,
        ids: &[EventId],
    ) -> Result<Measured<Vec<Event>>, StoreError> {
        let mut events = Vec::with_capacity(ids.len());
        let mut requests = 0;
        for chunk in ids.chunks(MAX_BATCH_GET) {
            let keys = chunk.iter().map(|id| base_key(tenant, id)).collect();
            let (items, made) = self.batch_get(keys).await?;
            requests += made;
            for item in items {
                events.push(to_event(item)?);
            }
        }
        let read = events.len() as u64;
        Ok(Measured::new(events, requests, read))
    }

    async fn get(
        &self,
        tenant: &Tenant,
        id: &EventId,
    ) -> Result<Measured<Option<Event>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(base_key(tenant, id)))
            .send()
            .await
            .map_err(store_error("DynamoDB GetItem"))?;
        let read = u64::from(output.item.is_some());
        Ok(Measured::new(
            output.item.map(to_event).transpose()?,
            1,
            read,
        ))
    }
}
