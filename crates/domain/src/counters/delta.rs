//! What one stream record does to the counts. A record carries the item before and after the write;
//! each side that is an event counts in its tenant's and its name's total, hour and minute, so a
//! record's change is the new side's counters up by one and the old side's down by one. That single
//! rule covers INSERT (no old side), REMOVE (no new side, whoever removed the item: TTL or not) and
//! MODIFY, and it makes everything that is not an event (catalogue, keys, counters, checkpoints, the
//! keys-only INSERT the emulator emits for an `UpdateItem`) count nothing.

use chrono::{DateTime, Utc};

use super::layout::{Bucket, CounterKey, Dimension};
use crate::event::Tenant;
use crate::layout::{EventRecord, EVENT_SK};
use crate::time;

/// What the counts need of an event item: whose it is, its name, and when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventImage {
    pub tenant: Tenant,
    pub name_key: String,
    pub created_at: DateTime<Utc>,
}

impl EventImage {
    /// The image of a stored item, if it is an event this code wrote: `pk` is `E#<tenant>#…`, `sk`
    /// is `E`, and the tenant, name key and `created_at` parse. Anything else is not an event.
    pub fn from_record(record: &EventRecord) -> Option<Self> {
        let tenant = Tenant::parse(&record.tenant).ok()?;
        let owned = record
            .pk
            .strip_prefix("E#")
            .and_then(|rest| rest.strip_prefix(tenant.as_str()))
            .is_some_and(|rest| rest.starts_with('#'));
        if !owned || record.sk != EVENT_SK || record.name_key.is_empty() {
            return None;
        }
        Some(Self {
            tenant,
            name_key: record.name_key.clone(),
            created_at: time::from_fixed(&record.created_at)?,
        })
    }

    /// Every counter this event is counted in: each maintained dimension, each bucket kind.
    pub fn counters(&self) -> impl Iterator<Item = CounterKey> + '_ {
        let buckets = [
            Bucket::Total,
            Bucket::hour_of(&self.created_at),
            Bucket::minute_of(&self.created_at),
        ];
        Dimension::maintained(&self.name_key)
            .into_iter()
            .flat_map(move |dimension| {
                buckets.into_iter().map(move |bucket| {
                    CounterKey::new(self.tenant.clone(), dimension.clone(), bucket)
                })
            })
    }

    /// What decides which counters the event is in: the same projection means the same counters.
    fn projection(&self) -> (&Tenant, &str, Bucket) {
        (
            &self.tenant,
            &self.name_key,
            Bucket::minute_of(&self.created_at),
        )
    }
}

/// The change of one record, before aggregation: −1 on each counter of `old`, +1 on each of `new`.
/// When both sides have the same tenant, name key and minute (a MODIFY of another attribute, or the
/// emulator's MODIFY with equal images for a no-op put) nothing changes and nothing is returned.
/// A name or minute that moved within one hour leaves −1/+1 pairs on shared counters; the
/// aggregate cancels them.
pub fn deltas(old: Option<&EventImage>, new: Option<&EventImage>) -> Vec<(CounterKey, i64)> {
    if let (Some(o), Some(n)) = (old, new) {
        if o.projection() == n.projection() {
            return Vec::new();
        }
    }
    let down = old.into_iter().flat_map(|o| o.counters().map(|k| (k, -1)));
    let up = new.into_iter().flat_map(|n| n.counters().map(|k| (k, 1)));
    down.chain(up).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pk: &str, sk: &str, name_key: &str, created_at: &str) -> EventRecord {
        EventRecord {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            id: "01JDQ7ZK3M5N8P9Q0R1S2T3V20".to_owned(),
            tenant: "acme".to_owned(),
            event_name: name_key.to_owned(),
            name_key: name_key.to_owned(),
            description: "d".to_owned(),
            customer_id: None,
            created_at: created_at.to_owned(),
            received_at: created_at.to_owned(),
            metadata: None,
            expires_at: None,
            ts: String::new(),
            tp: String::new(),
            np: String::new(),
            cp: None,
            mac: None,
        }
    }

    fn image(name_key: &str, created_at: &str) -> EventImage {
        let r = record(
            "E#acme#01JDQ7ZK3M5N8P9Q0R1S2T3V20",
            "E",
            name_key,
            created_at,
        );
        EventImage::from_record(&r).unwrap()
    }

    #[test]
    fn only_event_items_are_images() {
        let at = "2026-11-30T02:30:00.000001Z";
        assert!(EventImage::from_record(&record("E#acme#x", "E", "a", at)).is_some());
        for (pk, sk, name, created) in [
            ("N#acme", "E", "a", at),
            ("C#acme", "E", "a", at),
            ("E#acme#x", "T", "a", at),
            ("E#other#x", "E", "a", at),
            ("E#acmex", "E", "a", at),
            ("E#acme#x", "E", "", at),
            ("E#acme#x", "E", "a", "yesterday"),
        ] {
            assert_eq!(
                EventImage::from_record(&record(pk, sk, name, created)),
                None,
                "{pk} {sk}"
            );
        }
    }

    #[test]
    fn an_insert_raises_six_counters() {
        let new = image("user.signed_in", "2026-11-30T02:30:00.000001Z");
        let d = deltas(None, Some(&new));
        assert_eq!(d.len(), 6);
        assert!(d.iter().all(|(_, n)| *n == 1));
        let keys: Vec<(String, String)> = d.iter().map(|(k, _)| (k.pk(), k.sk())).collect();
        assert!(keys.contains(&("C#acme".into(), "M#2026-11-30T02:30".into())));
        assert!(keys.contains(&("C#acme#user.signed_in".into(), "H#2026-11-30T02".into())));
    }

    #[test]
    fn a_remove_lowers_the_same_six() {
        let old = image("a", "2026-11-30T02:30:00Z");
        let d = deltas(Some(&old), None);
        assert_eq!(d.len(), 6);
        assert!(d.iter().all(|(_, n)| *n == -1));
    }

    #[test]
    fn equal_projections_change_nothing() {
        let old = image("a", "2026-11-30T02:30:00Z");
        let new = image("a", "2026-11-30T02:30:59Z");
        assert!(deltas(Some(&old), Some(&new)).is_empty());
    }

    #[test]
    fn a_move_lowers_the_old_side_and_raises_the_new() {
        let old = image("a", "2026-11-30T02:30:00Z");
        let new = image("b", "2026-11-30T02:31:00Z");
        let d = deltas(Some(&old), Some(&new));
        assert_eq!(d.len(), 12);
        assert_eq!(d.iter().map(|(_, n)| n).sum::<i64>(), 0);
    }
}
