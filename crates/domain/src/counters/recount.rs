//! Counting from scratch, for the operator's `counters check` and `counters rebuild`: what every
//! counter should hold according to the events a scan found, and where the stored counters differ.
//! An event is counted by the count function's own rule ([`deltas`] of an INSERT), so a recount
//! and the stream can only disagree when a delta was lost or applied twice, never by a different
//! reading of the layout.

use std::collections::BTreeMap;

use super::delta::{deltas, EventImage};
use super::layout::CounterKey;
use super::plan::Aggregate;
use crate::event::Tenant;
use crate::layout::EventRecord;

/// The counters a scan found and the ones its events call for, for every tenant or for one.
#[derive(Debug, Clone, Default)]
pub struct Recount {
    tenant: Option<Tenant>,
    expected: Aggregate,
    stored: BTreeMap<CounterKey, i64>,
    events: u64,
}

impl Recount {
    /// A recount of `tenant`'s counters, or of every tenant's with `None`. Items of other tenants
    /// are ignored, so a scan that filters loosely cannot put them in the report.
    pub fn new(tenant: Option<Tenant>) -> Self {
        Self {
            tenant,
            ..Self::default()
        }
    }

    fn in_scope(&self, tenant: &Tenant) -> bool {
        self.tenant.as_ref().is_none_or(|t| t == tenant)
    }

    /// Counts a stored item if it is an event in scope, as the count function counts its INSERT.
    /// Anything else counts nothing, and the answer says whether it counted.
    pub fn event(&mut self, record: &EventRecord) -> bool {
        let Some(image) = EventImage::from_record(record) else {
            return false;
        };
        if !self.in_scope(&image.tenant) {
            return false;
        }
        self.expected.add_all(&deltas(None, Some(&image)), 1);
        self.events += 1;
        true
    }

    /// Records a stored counter item in scope (its count, 0 for an item that holds none).
    pub fn stored(&mut self, key: CounterKey, n: i64) -> bool {
        if !self.in_scope(&key.tenant) {
            return false;
        }
        self.stored.insert(key, n);
        true
    }

    /// Events counted so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Counter items recorded so far.
    pub fn stored_counters(&self) -> usize {
        self.stored.len()
    }

    /// What each counter should hold; counters that should hold 0 are not in it.
    pub fn expected(&self) -> &Aggregate {
        &self.expected
    }

    /// Every counter that is stored or expected, compared. A counter stored as 0 with no events
    /// agrees (the stream leaves such items after removals); a nonzero one with no events differs,
    /// and so does an expected counter with no item.
    pub fn compare(&self) -> Comparison {
        let mut both: BTreeMap<&CounterKey, (i64, i64)> =
            self.stored.iter().map(|(key, n)| (key, (*n, 0))).collect();
        for (key, n) in self.expected.iter() {
            both.entry(key).or_insert((0, 0)).1 = n;
        }
        let compared = both.len();
        let differences = both
            .into_iter()
            .filter(|(_, (stored, expected))| stored != expected)
            .map(|(key, (stored, expected))| Difference {
                key: key.clone(),
                stored,
                expected,
            })
            .collect();
        Comparison {
            compared,
            differences,
        }
    }
}

/// The outcome of [`Recount::compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Counters looked at: those stored and those expected, each once.
    pub compared: usize,
    /// Those that differ, in key order (tenant, dimension, bucket).
    pub differences: Vec<Difference>,
}

impl Comparison {
    pub fn agrees(&self) -> bool {
        self.differences.is_empty()
    }
}

/// One counter whose item does not hold what the events say. `stored` is 0 when there is no item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub key: CounterKey,
    pub stored: i64,
    pub expected: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::layout::{Bucket, Dimension};
    use crate::event::{Description, Event, EventName};
    use crate::id::EventId;
    use crate::time;

    fn tenant(name: &str) -> Tenant {
        Tenant::parse(name).unwrap()
    }

    fn record(tenant_name: &str, name: &str, created_at: &str) -> EventRecord {
        let created_at = time::parse_rfc3339(created_at).unwrap();
        let event = Event {
            id: EventId::generate(),
            tenant: tenant(tenant_name),
            event_name: EventName::parse(name.to_owned()).unwrap(),
            description: Description::parse("d".to_owned()).unwrap(),
            customer_id: None,
            created_at,
            received_at: created_at,
            metadata: None,
            expires_at: None,
        };
        EventRecord::new(&event, 8)
    }

    fn key(tenant_name: &str, dimension: Dimension, sk: &str) -> CounterKey {
        CounterKey::new(
            tenant(tenant_name),
            dimension,
            Bucket::parse_sk(sk).unwrap(),
        )
    }

    fn name(key: &str) -> Dimension {
        Dimension::Name(key.to_owned())
    }

    /// Stores exactly what `recount` expects, as a count function that missed nothing would have.
    fn store_expected(recount: &mut Recount) {
        let expected: Vec<(CounterKey, i64)> = recount
            .expected()
            .iter()
            .map(|(k, n)| (k.clone(), n))
            .collect();
        for (key, n) in expected {
            recount.stored(key, n);
        }
    }

    #[test]
    fn events_are_counted_per_tenant_and_name_in_every_bucket_kind() {
        let mut recount = Recount::new(None);
        assert!(recount.event(&record("acme", "User.Login", "2026-11-30T02:30:00.000001Z")));
        assert!(recount.event(&record("acme", "user.login", "2026-11-30T02:59:59Z")));
        assert!(recount.event(&record("acme", "key.rotated", "2026-11-30T03:00:00Z")));
        assert!(recount.event(&record("other", "user.login", "2026-11-30T02:30:00Z")));
        assert_eq!(recount.events(), 4);
        let expected = recount.expected();
        for (key, n) in [
            (key("acme", Dimension::Tenant, "T"), 3),
            (key("acme", Dimension::Tenant, "H#2026-11-30T02"), 2),
            (key("acme", Dimension::Tenant, "H#2026-11-30T03"), 1),
            (key("acme", Dimension::Tenant, "M#2026-11-30T02:30"), 1),
            (key("acme", Dimension::Tenant, "M#2026-11-30T02:59"), 1),
            (key("acme", name("user.login"), "T"), 2),
            (key("acme", name("user.login"), "H#2026-11-30T02"), 2),
            (key("acme", name("key.rotated"), "M#2026-11-30T03:00"), 1),
            (key("other", Dimension::Tenant, "T"), 1),
            (key("acme", name("key.rotated"), "H#2026-11-30T02"), 0),
        ] {
            assert_eq!(expected.get(&key), n, "{} {}", key.pk(), key.sk());
        }
        // acme: (tenant + 2 names) x total, plus 2 hours and 3 minutes for the tenant, 1 hour and
        // 2 minutes for user.login, 1 and 1 for key.rotated; other: 2 dimensions x 3 buckets.
        assert_eq!(expected.len(), (3 + 2 + 3 + 1 + 2 + 1 + 1) + 6);
    }

    #[test]
    fn items_that_are_not_events_count_nothing() {
        let mut recount = Recount::new(None);
        let mut catalogue = record("acme", "a", "2026-11-30T02:30:00Z");
        catalogue.pk = "N#acme".to_owned();
        let mut bad_time = record("acme", "a", "2026-11-30T02:30:00Z");
        bad_time.created_at = "yesterday".to_owned();
        assert!(!recount.event(&catalogue));
        assert!(!recount.event(&bad_time));
        assert_eq!(recount.events(), 0);
        assert!(recount.expected().is_empty());
    }

    #[test]
    fn a_tenant_scope_ignores_other_tenants() {
        let mut recount = Recount::new(Some(tenant("acme")));
        assert!(recount.event(&record("acme", "a", "2026-11-30T02:30:00Z")));
        assert!(!recount.event(&record("other", "a", "2026-11-30T02:30:00Z")));
        assert!(!recount.stored(key("other", Dimension::Tenant, "T"), 7));
        assert!(recount.stored(key("acme", Dimension::Tenant, "T"), 1));
        assert_eq!((recount.events(), recount.stored_counters()), (1, 1));
        let comparison = recount.compare();
        assert_eq!(comparison.compared, 6);
        assert_eq!(
            comparison.differences.len(),
            5,
            "five counters have no item"
        );
        assert!(comparison
            .differences
            .iter()
            .all(|d| d.key.tenant == tenant("acme") && d.stored == 0 && d.expected == 1));
    }

    #[test]
    fn counters_that_hold_what_the_events_say_agree() {
        let mut recount = Recount::new(None);
        recount.event(&record("acme", "a", "2026-11-30T02:30:00Z"));
        recount.event(&record("acme", "b", "2026-12-01T00:00:00Z"));
        store_expected(&mut recount);
        // An item left at 0 by a removal is agreement too.
        recount.stored(key("acme", name("gone"), "M#2026-11-01T00:00"), 0);
        let comparison = recount.compare();
        assert!(comparison.agrees(), "{comparison:?}");
        // The tenant's total, 2 hours and 2 minutes; each name's 3; and the zero item.
        assert_eq!(comparison.compared, 5 + 3 + 3 + 1);
    }

    #[test]
    fn every_kind_of_difference_is_named_with_both_values() {
        let mut recount = Recount::new(None);
        recount.event(&record("acme", "a", "2026-11-30T02:30:00Z"));
        recount.event(&record("acme", "a", "2026-11-30T02:31:00Z"));
        store_expected(&mut recount);
        let total = key("acme", Dimension::Tenant, "T");
        let minute = key("acme", name("a"), "M#2026-11-30T02:31");
        let stray = key("acme", name("b"), "T");
        recount.stored(total.clone(), 3); // doubled
        recount.stored(minute.clone(), 0); // lost
        recount.stored(stray.clone(), -1); // no events at all
        let comparison = recount.compare();
        assert!(!comparison.agrees());
        assert_eq!(comparison.compared, 8 + 1);
        // In key order: the tenant dimension before names, and name `a` before `b`.
        assert_eq!(
            comparison.differences,
            vec![
                Difference {
                    key: total,
                    stored: 3,
                    expected: 2
                },
                Difference {
                    key: minute,
                    stored: 0,
                    expected: 1
                },
                Difference {
                    key: stray,
                    stored: -1,
                    expected: 0
                },
            ]
        );
    }

    #[test]
    fn a_missing_item_differs_like_a_stored_zero() {
        let mut with_zero = Recount::new(None);
        with_zero.event(&record("acme", "a", "2026-11-30T02:30:00Z"));
        let without = with_zero.clone();
        with_zero.stored(key("acme", Dimension::Tenant, "T"), 0);
        assert_eq!(with_zero.compare(), without.compare());
        assert_eq!(without.compare().differences.len(), 6);
    }
}
