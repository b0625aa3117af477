//! The operator's recount on DynamoDB, for `audit-log counters check` and `rebuild`: paginated,
//! strongly consistent `Scan`s of the events table and then of the counters table, which feed the
//! event items and the counter items they find into a
//! domain [`Recount`], and absolute writes of counters (`BatchWriteItem`, 25 a call, a few calls
//! in flight, `UnprocessedItems` retried under the shared backoff).
//!
//! Each table is read once however many tenants it holds. The filter only trims what comes back:
//! DynamoDB bills a Scan for every item it reads.

use std::time::{Duration, Instant};

use audit_domain::backoff::Backoff;
use audit_domain::counters::{
    name_partition_prefix, tenant_partition, CounterKey, Recount, COUNTER_PREFIX, COUNT_ATTRIBUTE,
};
use audit_domain::layout::{EventRecord, EVENT_SK};
use audit_domain::ports::StoreError;
use audit_domain::Tenant;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use futures::{stream, StreamExt as _};

use super::{count_of, key, DynamoCounters, Item};
use crate::error::{rejected, store_error};

/// BatchWriteItem takes at most 25 requests.
const MAX_BATCH_WRITE: usize = 25;
/// Calls in flight while writing, as the drain has: enough to hide the round trip, few enough not
/// to throttle an on-demand table that was quiet.
const WRITES_IN_FLIGHT: usize = 4;
/// An operator waits longer than a Lambda may, so a batch gets a generous budget before the
/// rebuild stops and says what is left (running it again finishes the job).
const UNPROCESSED_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(50),
    cap: Duration::from_secs(5),
};
const UNPROCESSED_BUDGET: Duration = Duration::from_secs(120);

/// How far a scan has got, after each page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanProgress {
    /// Items DynamoDB read (`ScannedCount`), which is what the scan costs.
    pub scanned: u64,
    /// Events counted.
    pub events: u64,
    /// Counter items found.
    pub counters: usize,
    pub requests: u64,
}

impl DynamoCounters {
    /// Scans the whole table once and counts what it holds for `tenant` (every tenant with
    /// `None`): its events, by the count function's rule, and its stored counters. Calls
    /// `progress` after every page.
    pub async fn recount(
        &self,
        events_table: &str,
        tenant: Option<&Tenant>,
        mut progress: impl FnMut(&ScanProgress),
    ) -> Result<(Recount, ScanProgress), StoreError> {
        let mut recount = Recount::new(tenant.cloned());
        let mut done = ScanProgress::default();
        // The events first, then the counters table (`self.table`).
        for table in [events_table, self.table.as_ref()] {
            self.scan_into(table, tenant, &mut recount, &mut done, &mut progress)
                .await?;
        }
        Ok((recount, done))
    }

    /// Scans one table to its end into `recount`.
    async fn scan_into(
        &self,
        table: &str,
        tenant: Option<&Tenant>,
        recount: &mut Recount,
        done: &mut ScanProgress,
        progress: &mut impl FnMut(&ScanProgress),
    ) -> Result<(), StoreError> {
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .recount_scan(table, tenant)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error("DynamoDB Scan"))?;
            done.requests += 1;
            done.scanned += output.scanned_count.max(0) as u64;
            for item in output.items.unwrap_or_default() {
                take(recount, item)?;
            }
            done.events = recount.events();
            done.counters = recount.stored_counters();
            progress(done);
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(()),
            }
        }
    }

    /// A Scan that returns event items and counter items (of one tenant, or of all), and nothing
    /// else: not the catalogue, keys or checkpoints.
    fn recount_scan(&self, table: &str, tenant: Option<&Tenant>) -> ScanFluentBuilder {
        let scan = self
            .client
            .scan()
            .table_name(table)
            // A counter the count function just wrote is seen as written.
            .consistent_read(true)
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":e", AttributeValue::S(EVENT_SK.to_owned()));
        match tenant {
            None => scan
                .filter_expression("#sk = :e OR begins_with(#pk, :c)")
                .expression_attribute_values(":c", AttributeValue::S(COUNTER_PREFIX.to_owned())),
            Some(tenant) => scan
                .filter_expression("(#sk = :e AND #t = :t) OR #pk = :tp OR begins_with(#pk, :np)")
                // The event item's `tenant` attribute (`EventRecord::tenant`).
                .expression_attribute_names("#t", "tenant")
                .expression_attribute_values(":t", AttributeValue::S(tenant.as_str().to_owned()))
                .expression_attribute_values(":tp", AttributeValue::S(tenant_partition(tenant)))
                .expression_attribute_values(
                    ":np",
                    AttributeValue::S(name_partition_prefix(tenant)),
                ),
        }
    }

    /// Sets each counter to its value, absolutely: a `Put` of the counter item, or a `Delete` for
    /// 0 (a missing counter reads as 0). Writing the same values twice leaves the same table.
    /// Keys must be distinct. Calls `progress` with the number of counters each finished call
    /// wrote.
    pub async fn set_counters<'a>(
        &self,
        counters: impl IntoIterator<Item = (&'a CounterKey, i64)>,
        mut progress: impl FnMut(usize),
    ) -> Result<(), StoreError> {
        let requests = counters
            .into_iter()
            .map(|(counter, n)| write_request(counter, n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut calls = stream::iter(requests.chunks(MAX_BATCH_WRITE).map(<[_]>::to_vec))
            .map(|batch| self.write_batch(batch))
            .buffer_unordered(WRITES_IN_FLIGHT);
        while let Some(written) = calls.next().await {
            progress(written?);
        }
        Ok(())
    }

    /// One `BatchWriteItem`, retried until DynamoDB has processed all of it or the budget is
    /// spent. Answers how many requests it carried.
    async fn write_batch(&self, batch: Vec<WriteRequest>) -> Result<usize, StoreError> {
        const OPERATION: &str = "DynamoDB BatchWriteItem";
        let size = batch.len();
        let mut pending = batch;
        let mut retries = UNPROCESSED_BACKOFF.until(Instant::now() + UNPROCESSED_BUDGET);
        loop {
            let last_error = match self
                .client
                .batch_write_item()
                .request_items(self.table.as_ref(), pending.clone())
                .send()
                .await
            {
                Ok(output) => {
                    pending = output
                        .unprocessed_items
                        .unwrap_or_default()
                        .remove(self.table.as_ref())
                        .unwrap_or_default();
                    if pending.is_empty() {
                        return Ok(size);
                    }
                    None
                }
                Err(error) => match store_error(OPERATION)(error) {
                    error if error.is_retryable() => Some(error),
                    error => return Err(error),
                },
            };
            let Some(delay) = retries.next_delay() else {
                return Err(last_error.unwrap_or_else(|| {
                    StoreError::unavailable(
                        OPERATION,
                        format!(
                            "{} of {size} counter writes still unprocessed after {} retries",
                            pending.len(),
                            retries.attempts()
                        ),
                    )
                }));
            };
            tokio::time::sleep(delay).await;
        }
    }
}

/// Feeds one scanned item to the recount: an event, a counter, or (filtered loosely) neither.
fn take(recount: &mut Recount, item: Item) -> Result<(), StoreError> {
    let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
        (item.get("pk"), item.get("sk"))
    else {
        return Ok(());
    };
    if sk == EVENT_SK {
        // An item that does not read as an event is not one the count function counts either.
        if let Ok(record) = serde_dynamo::from_item::<_, EventRecord>(item) {
            recount.event(&record);
        }
    } else if let Some(counter) = CounterKey::parse(pk, sk) {
        recount.stored(counter, count_of(&item)?);
    }
    Ok(())
}

fn write_request(counter: &CounterKey, n: i64) -> Result<WriteRequest, StoreError> {
    let key = key(&counter.pk(), &counter.sk());
    let request = if n == 0 {
        let delete = DeleteRequest::builder()
            .set_key(Some(key))
            .build()
            .map_err(rejected("DynamoDB DeleteRequest"))?;
        WriteRequest::builder().delete_request(delete).build()
    } else {
        let mut item = key;
        item.insert(COUNT_ATTRIBUTE.to_owned(), AttributeValue::N(n.to_string()));
        let put = PutRequest::builder()
            .set_item(Some(item))
            .build()
            .map_err(rejected("DynamoDB PutRequest"))?;
        WriteRequest::builder().put_request(put).build()
    };
    Ok(request)
}
