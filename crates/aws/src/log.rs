//! The sealed log on DynamoDB (`LogTable`): the items of `audit_domain::seal::items`, written with
//! plain or conditional `PutItem`s and `BatchWriteItem`, never a transaction. Each write's units are
//! metered from the item it sends, by DynamoDB's size rule, so a benchmark reads the cost of a
//! workload off the adapter.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use audit_domain::counters::{SequenceNumber, ShardId};
use audit_domain::ports::StoreError;
use audit_domain::seal::items::{self, Splice};
use audit_domain::seal::{
    Attr, CheckpointStore, Head, Item, LeafEntry, LogStore, ReadMeter, Signed, Swap, TileOutcome,
    WriteMeter,
};
use audit_domain::Tenant;
use audit_tlog::{Hash, TileWrite};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use crate::error::{rejected, store_error};

/// How often a tile write re-reads a tile whose own item another writer grew under it.
const TILE_ATTEMPTS: usize = 4;

type Raw = HashMap<String, AttributeValue>;

/// The log table. Cheap to clone; clones share the meter.
#[derive(Clone, Debug)]
pub struct DynamoLog {
    client: Client,
    table: Arc<str>,
    meter: Arc<WriteMeter>,
    tile_reads: Arc<ReadMeter>,
}

fn to_raw(item: &Item) -> Raw {
    item.0
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Attr::S(s) => AttributeValue::S(s.clone()),
                Attr::N(n) => AttributeValue::N(n.clone()),
                Attr::B(b) => AttributeValue::B(Blob::new(b.clone())),
            };
            (name.clone(), value)
        })
        .collect()
}

fn from_raw(raw: Raw) -> Item {
    Item(
        raw.into_iter()
            .filter_map(|(name, value)| {
                let value = match value {
                    AttributeValue::S(s) => Attr::S(s),
                    AttributeValue::N(n) => Attr::N(n),
                    AttributeValue::B(b) => Attr::B(b.into_inner()),
                    _ => return None,
                };
                Some((name, value))
            })
            .collect(),
    )
}

fn key(pk: &str, sk: &str) -> Raw {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// A condition for a conditional put: an expression and its values.
struct Condition {
    expression: &'static str,
    values: Vec<(&'static str, AttributeValue)>,
}

impl Condition {
    fn absent() -> Self {
        Self {
            expression: "attribute_not_exists(pk)",
            values: Vec::new(),
        }
    }

    fn equals(expression: &'static str, name: &'static str, value: AttributeValue) -> Self {
        Self {
            expression,
            values: vec![(name, value)],
        }
    }
}

impl DynamoLog {
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: Arc::from(table),
            meter: Arc::default(),
            tile_reads: Arc::default(),
        }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        Self::new(crate::endpoint::dynamodb_client(sdk), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes made and write units spent through this adapter (and its clones).
    pub fn meter(&self) -> &WriteMeter {
        &self.meter
    }

    /// Tile reads through this adapter (and its clones): requests, and the items they returned.
    pub fn tile_reads(&self) -> &ReadMeter {
        &self.tile_reads
    }

    /// One item, read strongly consistent.
    pub async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error("DynamoDB GetItem"))?;
        Ok(output.item.map(from_raw))
    }

    /// Puts `item`, under `condition` if given; `Moved` when the condition failed.
    async fn put(&self, item: &Item, condition: Option<Condition>) -> Result<Swap, StoreError> {
        self.meter.record(item);
        let mut request = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(to_raw(item)));
        if let Some(condition) = condition {
            request = request.condition_expression(condition.expression);
            for (name, value) in condition.values {
                request = request.expression_attribute_values(name, value);
            }
        }
        match request.send().await {
            Ok(_) => Ok(Swap::Done),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(Swap::Moved)
            }
            Err(error) => Err(store_error("DynamoDB PutItem")(error)),
        }
    }

    /// Every item of one partition, in sort-key order.
    pub async fn query(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        self.query_range(pk, None).await
    }

    /// Every item of one partition, or of its sort keys from `low` to `high` (inclusive), in
    /// sort-key order.
    async fn query_range(
        &self,
        pk: &str,
        range: Option<(&str, &str)>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Raw> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            request = match range {
                None => request.key_condition_expression("pk = :pk"),
                Some((low, high)) => request
                    .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                    .expression_attribute_values(":low", AttributeValue::S(low.to_owned()))
                    .expression_attribute_values(":high", AttributeValue::S(high.to_owned())),
            };
            let output = request
                .send()
                .await
                .map_err(store_error("DynamoDB Query"))?;
            found.extend(output.items.unwrap_or_default().into_iter().map(from_raw));
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    /// Every item whose `pk` starts with `prefix` (a scan of the whole table: for `verify`).
    pub async fn scan_prefix(&self, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Raw> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(self.table.as_ref())
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error("DynamoDB Scan"))?;
            found.extend(output.items.unwrap_or_default().into_iter().map(from_raw));
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for chunk in items.chunks(25) {
            let mut requests = Vec::with_capacity(chunk.len());
            for item in chunk {
                self.meter.record(item);
                let put = PutRequest::builder()
                    .set_item(Some(to_raw(item)))
                    .build()
                    .map_err(rejected("DynamoDB BatchWriteItem"))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            let mut attempt = 0u32;
            while !requests.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(self.table.as_ref(), requests)
                    .send()
                    .await
                    .map_err(store_error("DynamoDB BatchWriteItem"))?;
                requests = output
                    .unprocessed_items
                    .unwrap_or_default()
                    .remove(self.table.as_ref())
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                attempt += 1;
                if attempt > 6 {
                    return Err(StoreError::unavailable(
                        "DynamoDB BatchWriteItem",
                        format!("{} lookups still unprocessed", requests.len()),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
        }
        Ok(())
    }
}

impl LogStore for DynamoLog {
    async fn checkpoint(&self, shard: &ShardId) -> Result<Option<SequenceNumber>, StoreError> {
        let (pk, sk) = items::checkpoint_key(shard);
        Ok(self
            .get(&pk, &sk)
            .await?
            .and_then(|i| i.s("s").and_then(SequenceNumber::parse)))
    }

    async fn set_checkpoint(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        next: &SequenceNumber,
    ) -> Result<Swap, StoreError> {
        let condition = match expected {
            None => Condition::absent(),
            Some(at) => {
                Condition::equals("s = :s", ":s", AttributeValue::S(at.padded().to_owned()))
            }
        };
        self.put(&items::checkpoint_item(shard, next), Some(condition))
            .await
    }

    async fn head(&self, tenant: &Tenant) -> Result<Option<Head>, StoreError> {
        let (pk, sk) = items::head_key(tenant);
        match self.get(&pk, &sk).await? {
            None => Ok(None),
            Some(item) => items::parse_head(&item).map(Some).ok_or_else(|| {
                StoreError::rejected("reading a log head", format!("unreadable head of {pk}"))
            }),
        }
    }

    async fn put_head(
        &self,
        tenant: &Tenant,
        expected: u64,
        head: &Head,
    ) -> Result<Swap, StoreError> {
        let condition = if expected == 0 {
            Condition::absent()
        } else {
            Condition::equals("v = :v", ":v", AttributeValue::N(expected.to_string()))
        };
        let swapped = self
            .put(&items::head_item(tenant, head), Some(condition))
            .await?;
        if swapped == Swap::Done && expected == 0 {
            // The tenant's first head: list the tenant for the checkpoint schedule.
            self.put(&items::tenant_item(tenant), None).await?;
        }
        Ok(swapped)
    }

    async fn put_leaves(&self, tenant: &Tenant, entries: &[LeafEntry]) -> Result<(), StoreError> {
        self.batch_put(
            entries
                .iter()
                .map(|e| items::lookup_item(tenant, e))
                .collect(),
        )
        .await
    }

    async fn write_tile(
        &self,
        tenant: &Tenant,
        write: &TileWrite,
    ) -> Result<TileOutcome, StoreError> {
        let tile = write.tile();
        let (level, index) = (tile.level(), tile.index());
        let start = usize::from(write.start());
        if !items::compacts(level, start, start + write.hashes().len()) {
            // A blind put: the segment's key names the positions it holds, and the claim that
            // placed them fixes their hashes, so a repeated write puts the same item.
            let segment = items::segment_item(tenant, level, index, start, write.hashes());
            self.put(&segment, None).await?;
            return Ok(TileOutcome::Written);
        }
        for _ in 0..TILE_ATTEMPTS {
            let held = self.tile(tenant, level, index).await?;
            let hashes = match items::splice(&held, write) {
                Splice::Held => return Ok(TileOutcome::Written),
                Splice::Gap => return Ok(TileOutcome::Gap),
                Splice::Conflict => {
                    return Err(StoreError::rejected(
                        "writing a tile",
                        format!(
                            "tile {} of {} holds other hashes",
                            tile.path(),
                            tenant.as_str()
                        ),
                    ))
                }
                Splice::Store(hashes) => hashes,
            };
            // The tile's own key only grows, so that a stale compaction never hides hashes that
            // no segment holds.
            let condition = Condition::equals(
                "attribute_not_exists(pk) OR n < :n",
                ":n",
                AttributeValue::N(hashes.len().to_string()),
            );
            let item = items::tile_item(tenant, level, index, &hashes);
            if self.put(&item, Some(condition)).await? == Swap::Done {
                return Ok(TileOutcome::Written);
            }
        }
        Err(StoreError::unavailable(
            "writing a tile",
            format!("tile {} kept changing under the write", tile.path()),
        ))
    }

    /// A full tile is one `GetItem`; an open one also one `Query` of the segments past its item.
    async fn tile(&self, tenant: &Tenant, level: u8, index: u64) -> Result<Vec<Hash>, StoreError> {
        let pk = items::tile_pk(tenant);
        let full = self.get(&pk, &items::tile_sk(level, index)).await?;
        self.tile_reads.record(usize::from(full.is_some()));
        if let Some(hashes) = items::whole_tile(full.as_ref()) {
            return Ok(hashes);
        }
        let held = full.as_ref().and_then(|i| i.n("n")).unwrap_or(0) as usize;
        let (low, high) = items::segments_after(level, index, held);
        let segments = self.query_range(&pk, Some((&low, &high))).await?;
        self.tile_reads.record(segments.len());
        items::join_tile(level, index, full.as_ref(), &segments)
            .map_err(|why| StoreError::rejected("reading a tile", why))
    }

    async fn leaves_of(&self, tenant: &Tenant, id: &str) -> Result<Vec<LeafEntry>, StoreError> {
        let found = self.query(&items::lookup_pk(tenant, id)).await?;
        Ok(found.iter().filter_map(items::parse_lookup).collect())
    }
}

impl CheckpointStore for DynamoLog {
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let found = self.query(items::TENANTS_PK).await?;
        Ok(found
            .iter()
            .filter_map(|i| Tenant::parse(i.s("sk")?).ok())
            .collect())
    }

    async fn latest_signed(&self, tenant: &Tenant) -> Result<Option<Signed>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(self.table.as_ref())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(items::signed_pk(tenant)))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error("DynamoDB Query"))?;
        Ok(output
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|raw| items::parse_signed(&from_raw(raw))))
    }

    async fn signed(&self, tenant: &Tenant, size: u64) -> Result<Option<Signed>, StoreError> {
        let item = self
            .get(&items::signed_pk(tenant), &items::signed_sk(size))
            .await?;
        Ok(item.and_then(|i| items::parse_signed(&i)))
    }

    async fn put_signed(
        &self,
        tenant: &Tenant,
        size: u64,
        signed: &Signed,
    ) -> Result<(), StoreError> {
        self.put(&items::signed_item(tenant, size, signed), None)
            .await
            .map(|_| ())
    }
}

/// Every event item of `tenant` in the events table `table` (a paginated Scan with a filter on
/// `pk`), for `audit-log verify`. Items that do not parse as events are returned by key in the
/// second list.
pub async fn scan_events(
    client: &Client,
    table: &str,
    tenant: &Tenant,
) -> Result<(Vec<audit_domain::layout::EventRecord>, Vec<String>), StoreError> {
    let prefix = format!("E#{}#", tenant.as_str());
    let (mut events, mut unreadable) = (Vec::new(), Vec::new());
    let mut start: Option<Raw> = None;
    loop {
        let output = client
            .scan()
            .table_name(table)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S(prefix.clone()))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(store_error("DynamoDB Scan"))?;
        for item in output.items.unwrap_or_default() {
            let pk = match item.get("pk") {
                Some(AttributeValue::S(pk)) => pk.clone(),
                _ => String::new(),
            };
            match serde_dynamo::from_item(item) {
                Ok(record) => events.push(record),
                Err(_) => unreadable.push(pk),
            }
        }
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok((events, unreadable)),
        }
    }
}
