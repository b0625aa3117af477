//! How a batch of stream records becomes transactions. Deltas are summed per counter first (a
//! hundred events of one tenant in one minute are one `ADD` of 100, not a hundred), zeros are
//! dropped, and the records are cut into *prefixes*: records join a chunk in stream order while
//! its distinct counters stay within [`MAX_COUNTERS`], so that each chunk is one `TransactWriteItems`
//! of at most 99 counter updates and the checkpoint. A chunk's checkpoint is its last record's
//! sequence number, so whatever happens between two transactions, the stored checkpoint is an
//! exact record boundary and everything up to it, and nothing after it, is counted.

use std::collections::BTreeMap;

use super::layout::{CounterKey, SequenceNumber};

/// `TransactWriteItems` takes at most 100 actions; one is the checkpoint.
pub const MAX_COUNTERS: usize = 99;

/// A transactional write of an item under 1 KB costs two write units (counters and checkpoints
/// are a few dozen bytes).
pub const UNITS_PER_TRANSACTIONAL_WRITE: u64 = 2;

/// One stream record, reduced to what it does to the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub sequence: SequenceNumber,
    pub deltas: Vec<(CounterKey, i64)>,
}

/// Net changes per counter, in key order (so the writes of a batch are deterministic); a counter
/// whose changes cancel out is not in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate(BTreeMap<CounterKey, i64>);

impl Aggregate {
    pub fn add(&mut self, key: &CounterKey, delta: i64) {
        if delta == 0 {
            return;
        }
        let entry = self.0.entry(key.clone()).or_insert(0);
        *entry += delta;
        if *entry == 0 {
            self.0.remove(key);
        }
    }

    pub fn add_all(&mut self, deltas: &[(CounterKey, i64)], sign: i64) {
        for (key, delta) in deltas {
            self.add(key, sign * delta);
        }
    }

    /// Counters with a non-zero change: the writes this aggregate needs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &CounterKey) -> i64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CounterKey, i64)> {
        self.0.iter().map(|(k, v)| (k, *v))
    }
}

/// One transaction's worth of records: a prefix of what is left of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Net change per counter, never zero, at most [`MAX_COUNTERS`].
    pub counters: Aggregate,
    /// The last record the chunk covers: the checkpoint once it is applied.
    pub last: SequenceNumber,
    /// How many records it covers.
    pub records: usize,
    /// How many of them changed some count (before aggregation).
    pub events: usize,
}

impl Chunk {
    /// A chunk needs a write when any of its records changes some count. One whose records cancel
    /// out (an event stored and removed within the batch) writes its checkpoint alone: skipping it
    /// would leave the checkpoint behind those records, and a later delivery of only part of them
    /// (a bisected half, a redelivered suffix) would then apply that part. A chunk of records that
    /// count nothing (catalogue, keys, checkpoints) is the only one that writes nothing, so the
    /// checkpoint's own stream record never comes back as another write.
    pub fn needs_write(&self) -> bool {
        self.events > 0
    }
}

/// Cuts `changes` (in stream order) into prefix chunks of at most [`MAX_COUNTERS`] counters.
/// Records that count nothing join the chunk at hand. One record changes at most twelve counters,
/// so every record fits an empty chunk.
pub fn plan(changes: &[Change]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut current: Option<Chunk> = None;
    for change in changes {
        if let Some(chunk) = current.as_mut() {
            chunk.counters.add_all(&change.deltas, 1);
            if chunk.counters.len() <= MAX_COUNTERS {
                chunk.last = change.sequence.clone();
                chunk.records += 1;
                chunk.events += usize::from(!change.deltas.is_empty());
                continue;
            }
            // Over the limit: take the record back out and close the chunk before it.
            chunk.counters.add_all(&change.deltas, -1);
            chunks.extend(current.take());
        }
        let mut counters = Aggregate::default();
        counters.add_all(&change.deltas, 1);
        current = Some(Chunk {
            counters,
            last: change.sequence.clone(),
            records: 1,
            events: usize::from(!change.deltas.is_empty()),
        });
    }
    chunks.extend(current);
    chunks
}

/// What applying a plan costs in DynamoDB writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCost {
    pub transactions: u64,
    /// Counter items plus one checkpoint per transaction.
    pub items: u64,
    pub write_units: u64,
}

impl WriteCost {
    /// Write units per event counted; 0 when nothing was.
    pub fn units_per_event(&self, events: usize) -> f64 {
        if events == 0 {
            0.0
        } else {
            self.write_units as f64 / events as f64
        }
    }
}

/// The write cost of `chunks`, as the handler would apply them (chunks that need no write cost
/// nothing). Pure, so that a benchmark can report it for any batch shape.
pub fn write_cost(chunks: &[Chunk]) -> WriteCost {
    let mut cost = WriteCost::default();
    for chunk in chunks.iter().filter(|c| c.needs_write()) {
        let items = chunk.counters.len() as u64 + 1;
        cost.transactions += 1;
        cost.items += items;
        cost.write_units += items * UNITS_PER_TRANSACTIONAL_WRITE;
    }
    cost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::delta::{deltas, EventImage};
    use crate::event::Tenant;
    use chrono::{Duration, TimeZone, Utc};

    fn seq(n: u64) -> SequenceNumber {
        SequenceNumber::parse(&format!(
            "{}",
            100_000_000_000_000_000_000u128 + u128::from(n)
        ))
        .unwrap()
    }

    fn insert(n: u64, name: &str, minute: i64) -> Change {
        let created_at = Utc.with_ymd_and_hms(2026, 11, 30, 2, 0, 0).unwrap()
            + Duration::minutes(minute)
            + Duration::microseconds(n as i64);
        let image = EventImage {
            tenant: Tenant::default(),
            name_key: name.to_owned(),
            created_at,
        };
        Change {
            sequence: seq(n),
            deltas: deltas(None, Some(&image)),
        }
    }

    fn nothing(n: u64) -> Change {
        Change {
            sequence: seq(n),
            deltas: Vec::new(),
        }
    }

    #[test]
    fn a_batch_aggregates_into_one_write_per_counter() {
        let changes: Vec<Change> = (0..100)
            .map(|i| insert(i, &format!("n{}", i % 10), 0))
            .collect();
        let chunks = plan(&changes);
        assert_eq!(chunks.len(), 1);
        let chunk = &chunks[0];
        // (tenant + 10 names) x (total, hour, minute).
        assert_eq!(chunk.counters.len(), 33);
        assert_eq!((chunk.records, chunk.events), (100, 100));
        assert_eq!(chunk.last, seq(99));
        assert_eq!(chunk.counters.iter().map(|(_, n)| n).sum::<i64>(), 100 * 6);
    }

    #[test]
    fn chunks_are_prefixes_of_at_most_99_counters() {
        // Every event a new name: 3 tenant counters, then 3 more per record.
        let changes: Vec<Change> = (0..70).map(|i| insert(i, &format!("n{i}"), 0)).collect();
        let chunks = plan(&changes);
        assert!(chunks.iter().all(|c| c.counters.len() <= MAX_COUNTERS));
        assert_eq!(chunks.iter().map(|c| c.records).sum::<usize>(), 70);
        // 3 + 3 * 32 = 99 fits; the 33rd name would make 102.
        assert_eq!(chunks[0].records, 32);
        assert_eq!(chunks[0].last, seq(31));
        assert_eq!(chunks[1].records, 32);
        assert_eq!(chunks[2].records, 6);
        // Applying the chunks one after another adds up to applying the whole batch at once.
        let mut whole = Aggregate::default();
        changes.iter().for_each(|c| whole.add_all(&c.deltas, 1));
        let mut summed = Aggregate::default();
        for chunk in &chunks {
            chunk.counters.iter().for_each(|(k, n)| summed.add(k, n));
        }
        assert_eq!(summed, whole);
    }

    #[test]
    fn records_that_count_nothing_ride_along_and_alone_need_no_write() {
        let chunks = plan(&[nothing(1), insert(2, "a", 0), nothing(3)]);
        assert_eq!(chunks.len(), 1);
        assert_eq!((chunks[0].records, chunks[0].events), (3, 1));
        assert_eq!(chunks[0].last, seq(3));
        let idle = plan(&[nothing(1), nothing(2)]);
        assert_eq!(idle.len(), 1);
        assert!(!idle[0].needs_write());
        assert_eq!(write_cost(&idle), WriteCost::default());
        assert!(plan(&[]).is_empty());
    }

    #[test]
    fn changes_that_cancel_out_write_only_the_checkpoint() {
        let up = insert(1, "a", 0);
        let down = Change {
            sequence: seq(2),
            deltas: up.deltas.iter().map(|(k, n)| (k.clone(), -n)).collect(),
        };
        let chunks = plan(&[up, down]);
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].counters.is_empty());
        // It still moves the checkpoint past both records, in a transaction of that one item.
        assert!(chunks[0].needs_write());
        assert_eq!(chunks[0].events, 2);
        assert_eq!(
            write_cost(&chunks),
            WriteCost {
                transactions: 1,
                items: 1,
                write_units: 2
            }
        );
    }

    /// The budget: at most one write unit per event at 100-record batches with 10 names.
    /// (Customers are not a maintained dimension, so 1,000 customers change nothing here.)
    #[test]
    fn write_units_per_event_stay_within_budget() {
        let batch = |size: u64, minutes: u64| -> (usize, WriteCost) {
            let changes: Vec<Change> = (0..size)
                .map(|i| insert(i, &format!("n{}", i % 10), (i * minutes / size) as i64))
                .collect();
            (changes.len(), write_cost(&plan(&changes)))
        };
        let (events, cost) = batch(100, 1);
        assert_eq!(
            cost,
            WriteCost {
                transactions: 1,
                items: 34,
                write_units: 68
            }
        );
        assert!((cost.units_per_event(events) - 0.68).abs() < 1e-9);

        let (events, cost) = batch(1000, 1);
        assert_eq!(
            cost,
            WriteCost {
                transactions: 1,
                items: 34,
                write_units: 68
            }
        );
        assert!((cost.units_per_event(events) - 0.068).abs() < 1e-9);

        // 1,000 records spread over ten minutes: 11 x (1 total + 1 hour + 10 minutes) = 132
        // counters, more than one transaction holds; the second writes the totals and the hour
        // again (99 + 55 counters, two checkpoints).
        let (events, cost) = batch(1000, 10);
        assert_eq!(
            cost,
            WriteCost {
                transactions: 2,
                items: 156,
                write_units: 312
            }
        );
        assert!((cost.units_per_event(events) - 0.312).abs() < 1e-9);
    }
}
