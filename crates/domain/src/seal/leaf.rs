//! What one stream record adds to a tenant's log, and who wrote it.
//!
//! - An `INSERT`, or a `MODIFY` whose `log` object changed, adds the event's leaf:
//!   `SHA-256(0x00 || JCS(log))`, where `log` is what `GET /api/logs/{id}` answers under `"log"`.
//!   A `MODIFY` that leaves `log` as it was (a redelivered or retried write of the same content,
//!   or a change of an attribute the API does not show) adds nothing.
//! - A `REMOVE` adds the removal leaf, `expired` when DynamoDB's TTL did it and `deleted` otherwise.
//! - An item that is not an event (catalogue, keys, or an `E#` item this code cannot read) adds
//!   nothing; `audit-log verify` reports an unreadable event item.
//!
//! **Writer.** The drain stores `mac = HMAC-SHA256(writer key, JCS(log))` on each event item, with a
//! key that the table's other writers do not hold. A version whose `mac` checks is written by the
//! `service`; anything else, and every deletion (the service never deletes; TTL expires), is
//! `foreign`.

use audit_tlog::{canonical_json, event_leaf, removal_leaf, Hash, LeafError, Removal};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::counters::SequenceNumber;
use crate::event::{Event, Tenant};
use crate::layout::EventRecord;

type HmacSha256 = Hmac<Sha256>;

/// The writer key used when none is configured; fine on a laptop, never in AWS.
pub const DEV_WRITER_KEY: &str = "local-development-writer-key-not-for-production";

/// The key of the writer HMAC. Its `Debug` hides it.
#[derive(Clone)]
pub struct WriterKey(Vec<u8>);

impl std::fmt::Debug for WriterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterKey(***)")
    }
}

impl WriterKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self(key.into())
    }

    pub fn development() -> Self {
        Self::new(DEV_WRITER_KEY)
    }

    fn hmac(&self, bytes: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(bytes);
        mac
    }

    /// The `mac` attribute for an event: base64 of the HMAC of its canonical `log` bytes. `None`
    /// when the event has no canonical form (an integer JCS cannot hold exactly), so no leaf.
    pub fn mac_event(&self, event: &Event) -> Option<String> {
        let bytes = canonical_log(event).ok()?;
        Some(STANDARD.encode(self.hmac(&bytes).finalize().into_bytes()))
    }

    /// Whether `mac` is this key's HMAC of `bytes` (compared in constant time).
    pub fn verifies(&self, bytes: &[u8], mac: &str) -> bool {
        match STANDARD.decode(mac) {
            Ok(tag) => self.hmac(bytes).verify_slice(&tag).is_ok(),
            Err(_) => false,
        }
    }
}

/// The `log` object of an event as JSON, exactly as the read API answers it.
pub fn log_value(event: &Event) -> serde_json::Value {
    serde_json::to_value(event.view()).expect("an event view always serialises")
}

/// The canonical (RFC 8785) bytes of an event's `log` object: what its leaf and its `mac` cover.
pub fn canonical_log(event: &Event) -> Result<Vec<u8>, LeafError> {
    canonical_json(&log_value(event))
}

/// The leaf hash of an event version.
pub fn event_hash(event: &Event) -> Result<Hash, LeafError> {
    event_leaf(&log_value(event))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeafKind {
    Event,
    Removed,
}

impl LeafKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Removed => "removed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "event" => Some(Self::Event),
            "removed" => Some(Self::Removed),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Writer {
    Service,
    Foreign,
}

impl Writer {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Foreign => "foreign",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "service" => Some(Self::Service),
            "foreign" => Some(Self::Foreign),
            _ => None,
        }
    }
}

/// One leaf to append, before it has an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub tenant: Tenant,
    pub id: String,
    pub kind: LeafKind,
    pub writer: Writer,
    pub hash: Hash,
}

/// A leaf with its index: the id→leaf lookup item, and what a proof lists per version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafEntry {
    pub index: u64,
    pub id: String,
    pub kind: LeafKind,
    pub writer: Writer,
    pub hash: Hash,
}

/// A stream record reduced to what the seal needs: its images as event items (when they are),
/// the key of a removed item, and whether the DynamoDB service principal made the change.
#[derive(Clone, Debug)]
pub struct SealChange {
    pub sequence: SequenceNumber,
    pub event_id: String,
    pub name: ChangeName,
    pub old: Option<EventRecord>,
    pub new: Option<EventRecord>,
    /// `(tenant, id)` from the old image's `pk` (`E#<tenant>#<id>`), for removals.
    pub removed: Option<(Tenant, String)>,
    /// `userIdentity` is `{"type": "Service", "principalId": "dynamodb.amazonaws.com"}`: TTL.
    pub by_ttl: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeName {
    Insert,
    Modify,
    Remove,
}

/// `(tenant, id)` of an event item's `pk`, `E#<tenant>#<id>`; tenants never hold `#`.
pub fn event_key(pk: &str) -> Option<(Tenant, String)> {
    let rest = pk.strip_prefix("E#")?;
    let (tenant, id) = rest.split_once('#')?;
    Some((Tenant::parse(tenant).ok()?, id.to_owned()))
}

/// The leaf a change adds to its tenant's log, if any (see the module docs).
pub fn leaf_of(change: &SealChange, key: &WriterKey) -> Option<Leaf> {
    match change.name {
        ChangeName::Remove => {
            let (tenant, id) = change.removed.clone()?;
            let (removal, writer) = if change.by_ttl {
                (Removal::Expired, Writer::Service)
            } else {
                (Removal::Deleted, Writer::Foreign)
            };
            Some(Leaf {
                hash: removal_leaf(&id, removal),
                tenant,
                id,
                kind: LeafKind::Removed,
                writer,
            })
        }
        ChangeName::Insert | ChangeName::Modify => {
            let record = change.new.clone()?;
            let mac = record.mac.clone();
            let event = record.into_event()?;
            // An integer beyond JCS's exact range has no canonical form, so no leaf (README,
            // "Known limits"); `verify` reports such an event as not in the log.
            let bytes = canonical_log(&event).ok()?;
            if change.name == ChangeName::Modify {
                let old = change.old.clone().and_then(EventRecord::into_event);
                if old.is_some_and(|old| log_value(&old) == log_value(&event)) {
                    return None;
                }
            }
            let writer = match mac {
                Some(mac) if key.verifies(&bytes, &mac) => Writer::Service,
                _ => Writer::Foreign,
            };
            Some(Leaf {
                tenant: event.tenant.clone(),
                id: event.id.as_str().to_owned(),
                kind: LeafKind::Event,
                writer,
                hash: audit_tlog::leaf_hash(&bytes),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewEvent;
    use chrono::{TimeZone, Utc};

    fn event(description: &str) -> Event {
        let body = serde_json::json!({
            "event_name": "user.login",
            "description": description,
            "customer_id": 18,
            "metadata": {"ip": "10.0.0.7", "n": 1.5},
        });
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        NewEvent::from_json(&body, now).unwrap().stamp(
            crate::EventId::parse("01M8N395JPG0FQ815FX6Z4NTVH").unwrap(),
            Tenant::parse("acme").unwrap(),
            now,
            0,
        )
    }

    fn item(event: &Event, key: Option<&WriterKey>) -> EventRecord {
        let mut record = EventRecord::new(event, 8);
        record.mac = key.and_then(|k| k.mac_event(event));
        record
    }

    fn change(name: ChangeName, old: Option<EventRecord>, new: Option<EventRecord>) -> SealChange {
        SealChange {
            sequence: SequenceNumber::parse("100").unwrap(),
            event_id: "e".to_owned(),
            name,
            removed: old.as_ref().and_then(|o| event_key(&o.pk)),
            old,
            new,
            by_ttl: false,
        }
    }

    #[test]
    fn an_insert_is_the_leaf_of_what_the_api_answers() {
        let key = WriterKey::development();
        let e = event("signed in");
        let leaf = leaf_of(
            &change(ChangeName::Insert, None, Some(item(&e, Some(&key)))),
            &key,
        )
        .unwrap();
        let answered = serde_json::json!({
            "id": "01M8N395JPG0FQ815FX6Z4NTVH",
            "created_at": crate::time::to_rfc3339(&e.created_at),
            "event_name": "user.login",
            "description": "signed in",
            "customer_id": 18,
            "metadata": {"ip": "10.0.0.7", "n": 1.5},
        });
        assert_eq!(log_value(&e), answered);
        assert_eq!(leaf.hash, event_leaf(&answered).unwrap());
        assert_eq!((leaf.kind, leaf.writer), (LeafKind::Event, Writer::Service));
        assert_eq!(
            (leaf.tenant.as_str(), leaf.id.as_str()),
            ("acme", "01M8N395JPG0FQ815FX6Z4NTVH")
        );
    }

    #[test]
    fn a_missing_or_wrong_mac_is_a_foreign_writer() {
        let key = WriterKey::development();
        let e = event("signed in");
        let unsigned = leaf_of(
            &change(ChangeName::Insert, None, Some(item(&e, None))),
            &key,
        )
        .unwrap();
        assert_eq!(unsigned.writer, Writer::Foreign);
        let other = WriterKey::new("someone else's key");
        let forged = leaf_of(
            &change(ChangeName::Insert, None, Some(item(&e, Some(&other)))),
            &key,
        )
        .unwrap();
        assert_eq!(forged.writer, Writer::Foreign);
        // A mac copied from another event does not carry over to altered content.
        let mut altered = item(&event("signed out"), None);
        altered.mac = item(&e, Some(&key)).mac;
        let leaf = leaf_of(
            &change(
                ChangeName::Modify,
                Some(item(&e, Some(&key))),
                Some(altered),
            ),
            &key,
        )
        .unwrap();
        assert_eq!(leaf.writer, Writer::Foreign);
    }

    #[test]
    fn a_modify_adds_a_leaf_only_when_the_log_changed() {
        let key = WriterKey::development();
        let e = event("signed in");
        let same = change(
            ChangeName::Modify,
            Some(item(&e, Some(&key))),
            Some(item(&e, Some(&key))),
        );
        assert_eq!(leaf_of(&same, &key), None);
        // received_at is not part of `log`: a retry that restamps it changes nothing sealed.
        let mut retried = e.clone();
        retried.received_at += chrono::Duration::seconds(5);
        let retry = change(
            ChangeName::Modify,
            Some(item(&e, Some(&key))),
            Some(item(&retried, Some(&key))),
        );
        assert_eq!(leaf_of(&retry, &key), None);
        let changed = change(
            ChangeName::Modify,
            Some(item(&e, Some(&key))),
            Some(item(&event("signed out"), Some(&key))),
        );
        assert!(leaf_of(&changed, &key).is_some());
    }

    #[test]
    fn removals_are_expired_by_ttl_and_deleted_otherwise() {
        let key = WriterKey::development();
        let e = event("signed in");
        let mut removal = change(ChangeName::Remove, Some(item(&e, Some(&key))), None);
        let deleted = leaf_of(&removal, &key).unwrap();
        assert_eq!(
            deleted.hash,
            removal_leaf("01M8N395JPG0FQ815FX6Z4NTVH", Removal::Deleted)
        );
        assert_eq!(
            (deleted.kind, deleted.writer),
            (LeafKind::Removed, Writer::Foreign)
        );
        removal.by_ttl = true;
        let expired = leaf_of(&removal, &key).unwrap();
        assert_eq!(
            expired.hash,
            removal_leaf("01M8N395JPG0FQ815FX6Z4NTVH", Removal::Expired)
        );
        assert_eq!(expired.writer, Writer::Service);
    }

    #[test]
    fn items_that_are_not_events_add_nothing() {
        let key = WriterKey::development();
        let mut broken = item(&event("x"), None);
        broken.created_at = "yesterday".to_owned();
        assert_eq!(
            leaf_of(&change(ChangeName::Insert, None, Some(broken)), &key),
            None
        );
        assert_eq!(leaf_of(&change(ChangeName::Insert, None, None), &key), None);
        assert_eq!(event_key("N#acme"), None);
        assert_eq!(event_key("E#ac me#x"), None);
        assert_eq!(
            event_key("E#acme#01M8N395JPG0FQ815FX6Z4NTVH")
                .map(|(t, id)| (t.as_str().to_owned(), id)),
            Some(("acme".to_owned(), "01M8N395JPG0FQ815FX6Z4NTVH".to_owned()))
        );
    }
}
