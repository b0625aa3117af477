//! An in-memory store behind the read port, keyed exactly as the DynamoDB table is (it indexes
//! `EventRecord`s), so that property tests and handler tests can run the real read path without AWS.
//! It reports its cost as the adapter does: one request per call, and the entries it examines. Its
//! counters are those of a count function that has caught up with every record.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::counters::range::BucketRun;
use crate::counters::{Bucket, CounterKey, EventImage};
use crate::event::{Event, Tenant};
use crate::id::EventId;
use crate::layout::{self, EventRecord};
use crate::ports::{
    CounterReader, EventLookup, Index, IndexQuery, IndexReader, KeyEntry, KeyPage, Measured,
    NameCatalogue, StoreError,
};
use crate::query::Direction;

#[derive(Debug, Clone)]
pub struct MemoryReader {
    records: Arc<Vec<EventRecord>>,
}

impl MemoryReader {
    pub fn new<'a>(events: impl IntoIterator<Item = &'a Event>, shards: u32) -> Self {
        Self {
            records: Arc::new(
                events
                    .into_iter()
                    .map(|e| EventRecord::new(e, shards))
                    .collect(),
            ),
        }
    }

    /// How many catalogue names start with `prefix`: a bound for tests.
    pub fn name_count(&self, tenant: &Tenant, prefix: &str) -> u64 {
        self.matching_names(tenant, prefix).len() as u64
    }

    /// The distinct name keys of `tenant` that start with `prefix`, in order: the catalogue's view.
    fn matching_names(&self, tenant: &Tenant, prefix: &str) -> BTreeSet<&str> {
        self.records
            .iter()
            .filter(|r| r.tenant == tenant.as_str() && r.name_key.starts_with(prefix))
            .map(|r| r.name_key.as_str())
            .collect()
    }

    /// The partition's entries in range, in the query's direction: what a Query walks.
    fn walk(&self, query: &IndexQuery) -> Vec<&EventRecord> {
        let mut rows: Vec<&EventRecord> = self
            .records
            .iter()
            .filter(|r| partition_of(query.index, r) == Some(query.partition.as_str()))
            .filter(|r| query.range.contains(&r.ts))
            .collect();
        rows.sort_unstable_by(|a, b| a.ts.cmp(&b.ts));
        if query.direction == Direction::Desc {
            rows.reverse();
        }
        rows
    }
}

impl MemoryReader {
    /// Every counter of `partition` with its count, as the count function would have left them.
    fn counters_of(&self, partition: &str) -> BTreeMap<Bucket, i64> {
        let mut counts = BTreeMap::new();
        let keys = self
            .records
            .iter()
            .filter_map(EventImage::from_record)
            .flat_map(|image| image.counters().collect::<Vec<CounterKey>>());
        for key in keys.filter(|k| k.pk() == partition) {
            *counts.entry(key.bucket).or_insert(0) += 1;
        }
        counts
    }
}

impl CounterReader for MemoryReader {
    async fn counter_total(&self, partition: &str) -> Result<Measured<i64>, StoreError> {
        let total = self.counters_of(partition).get(&Bucket::Total).copied();
        Ok(Measured::new(
            total.unwrap_or(0),
            1,
            u64::from(total.is_some()),
        ))
    }

    async fn counter_run(
        &self,
        partition: &str,
        run: &BucketRun,
    ) -> Result<Measured<BTreeMap<i64, i64>>, StoreError> {
        let counters = self.counters_of(partition);
        let found: BTreeMap<i64, i64> = run
            .indexes()
            .filter_map(|i| Some((i, *counters.get(&run.kind.bucket(i))?)))
            .collect();
        let read = found.len() as u64;
        Ok(Measured::new(found, 1, read))
    }
}

fn partition_of(index: Index, record: &EventRecord) -> Option<&str> {
    match index {
        Index::ByTime => Some(&record.tp),
        Index::ByName => Some(&record.np),
        Index::ByCustomer => record.cp.as_deref(),
    }
}

fn passes(query: &IndexQuery, record: &EventRecord) -> bool {
    query
        .name_prefix
        .as_deref()
        .is_none_or(|p| record.name_key.starts_with(p))
}

impl IndexReader for MemoryReader {
    async fn query_keys(&self, query: &IndexQuery) -> Result<Measured<KeyPage>, StoreError> {
        let rows = self.walk(query);
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut entries = Vec::new();
        let mut examined = 0;
        for record in &rows {
            if entries.len() >= limit {
                break;
            }
            examined += 1;
            if passes(query, record) {
                entries.push(KeyEntry {
                    ts: record.ts.clone(),
                    name_key: (query.index == Index::ByCustomer).then(|| record.name_key.clone()),
                });
            }
        }
        Ok(Measured::new(KeyPage { entries }, 1, examined))
    }

    async fn count(&self, query: &IndexQuery) -> Result<Measured<u64>, StoreError> {
        let rows = self.walk(query);
        let matching = rows.iter().filter(|r| passes(query, r)).count() as u64;
        Ok(Measured::new(matching, 1, rows.len() as u64))
    }
}

impl NameCatalogue for MemoryReader {
    async fn names(
        &self,
        tenant: &Tenant,
        prefix: &str,
    ) -> Result<Measured<Vec<String>>, StoreError> {
        let names: Vec<String> = self
            .matching_names(tenant, prefix)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let read = names.len() as u64;
        Ok(Measured::new(names, 1, read))
    }
}

impl EventLookup for MemoryReader {
    async fn get_many(
        &self,
        tenant: &Tenant,
        ids: &[EventId],
    ) -> Result<Measured<Vec<Event>>, StoreError> {
        let wanted: BTreeSet<String> = ids.iter().map(|id| layout::event_pk(tenant, id)).collect();
        let found: Vec<Event> = self
            .records
            .iter()
            .filter(|r| wanted.contains(&r.pk))
            .filter_map(|r| r.clone().into_event())
            .collect();
        let read = found.len() as u64;
        Ok(Measured::new(found, 1, read))
    }

    async fn get(
        &self,
        tenant: &Tenant,
        id: &EventId,
    ) -> Result<Measured<Option<Event>>, StoreError> {
        let pk = layout::event_pk(tenant, id);
        let found = self
            .records
            .iter()
            .find(|r| r.pk == pk)
            .and_then(|r| r.clone().into_event());
        let read = u64::from(found.is_some());
        Ok(Measured::new(found, 1, read))
    }
}
