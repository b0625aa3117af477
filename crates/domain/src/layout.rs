//! The DynamoDB key layout (docs/ARCHITECTURE.md, "Data model"), in one place: base keys, the shared index sort key `ts`,
//! the sharded time partition, and the records the drain writes.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | event | `E#<tenant>#<id>` | `E` |
//! | name catalogue | `N#<tenant>` | `<name_key>` |
//! | API key (verification) | `K#<key_id>` | `K` |
//! | API key (tenant's listing) | `KT#<tenant>` | `<key_id>` |

use serde::{Deserialize, Serialize};

use crate::auth::{KeyId, KeyInfo, KeyRecord, Scopes, SecretHash};
use crate::event::{Event, Tenant};
use crate::id::EventId;
use crate::time;

/// Index names, as the template defines them.
pub const BY_TIME: &str = "by_time";
pub const BY_NAME: &str = "by_name";
pub const BY_CUSTOMER: &str = "by_customer";

/// The sort key of every event item.
pub const EVENT_SK: &str = "E";

pub fn event_pk(tenant: &Tenant, id: &EventId) -> String {
    format!("E#{}#{}", tenant.as_str(), id.as_str())
}

pub fn catalogue_pk(tenant: &Tenant) -> String {
    format!("N#{}", tenant.as_str())
}

/// `<created_at, fixed width>#<id>`: unique, fixed width (54 bytes), and in time order.
pub fn ts(created_at: &chrono::DateTime<chrono::Utc>, id: &EventId) -> String {
    format!("{}#{}", time::to_fixed(created_at), id.as_str())
}

/// The id at the end of a `ts` key.
pub fn id_of_ts(ts: &str) -> Option<EventId> {
    ts.rsplit_once('#').and_then(|(_, id)| EventId::parse(id))
}

/// The `created_at` at the start of a `ts` key.
pub fn time_of_ts(ts: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    ts.split_once('#').and_then(|(at, _)| time::from_fixed(at))
}

pub fn time_partition(tenant: &Tenant, shard: u32) -> String {
    format!("{}#{shard}", tenant.as_str())
}

pub fn name_partition(tenant: &Tenant, name_key: &str) -> String {
    format!("{}#{name_key}", tenant.as_str())
}

pub fn customer_partition(tenant: &Tenant, customer_id: u64) -> String {
    format!("{}#{customer_id}", tenant.as_str())
}

/// Which `by_time` shard an event lands in. FNV-1a is used because it is stable across processes,
/// builds and Rust versions, unlike std's randomly seeded hasher: readers and writers must agree.
pub fn shard_of(id: &EventId, shards: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.as_str().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(shards.max(1))) as u32
}

/// An event as one DynamoDB item, with every index key it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub pk: String,
    pub sk: String,
    pub id: String,
    pub tenant: String,
    pub event_name: String,
    pub name_key: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<u64>,
    pub created_at: String,
    pub received_at: String,
    /// The metadata object as JSON text: stored verbatim, so numbers and nesting come back unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    pub ts: String,
    pub tp: String,
    pub np: String,
    /// Only events with a customer get this attribute, which keeps `by_customer` sparse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cp: Option<String>,
    /// The writer HMAC (`seal::WriterKey::mac_event`): base64 HMAC-SHA256 of the event's canonical
    /// `log` bytes, keyed with a secret only the service holds. The seal marks a version without a
    /// valid one as written by a foreign writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl EventRecord {
    pub fn new(event: &Event, shards: u32) -> Self {
        let name_key = event.event_name.key();
        Self {
            pk: event_pk(&event.tenant, &event.id),
            sk: EVENT_SK.to_owned(),
            id: event.id.as_str().to_owned(),
            tenant: event.tenant.as_str().to_owned(),
            event_name: event.event_name.as_str().to_owned(),
            np: name_partition(&event.tenant, &name_key),
            name_key,
            description: event.description.as_str().to_owned(),
            customer_id: event.customer_id,
            created_at: time::to_fixed(&event.created_at),
            received_at: time::to_fixed(&event.received_at),
            metadata: event.metadata.as_ref().map(|m| m.to_json()),
            expires_at: event.expires_at,
            ts: ts(&event.created_at, &event.id),
            tp: time_partition(&event.tenant, shard_of(&event.id, shards)),
            cp: event
                .customer_id
                .map(|c| customer_partition(&event.tenant, c)),
            mac: None,
        }
    }

    /// Turns a stored item back into an event; `None` if it was not written by this code.
    pub fn into_event(self) -> Option<Event> {
        let metadata = match self.metadata {
            Some(text) => Some(serde_json::from_str(&text).ok()?),
            None => None,
        };
        Some(Event {
            id: EventId::parse(&self.id)?,
            tenant: Tenant::parse(&self.tenant).ok()?,
            event_name: self.event_name.try_into().ok()?,
            description: self.description.try_into().ok()?,
            customer_id: self.customer_id,
            created_at: time::from_fixed(&self.created_at)?,
            received_at: time::from_fixed(&self.received_at)?,
            metadata,
            expires_at: self.expires_at,
        })
    }
}

/// One entry of the event-name catalogue: the distinct names of a tenant, in name order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CatalogueRecord {
    pub pk: String,
    pub sk: String,
    pub event_name: String,
}

impl CatalogueRecord {
    pub fn new(event: &Event) -> Self {
        Self {
            pk: catalogue_pk(&event.tenant),
            sk: event.event_name.key(),
            event_name: event.event_name.as_str().to_owned(),
        }
    }
}

/// The sort key of a key's verification item.
pub const KEY_SK: &str = "K";

/// The verification item: one `GetItem` by the id a request presents.
pub fn key_pk(id: &KeyId) -> String {
    format!("K#{}", id.as_str())
}

/// A tenant's keys, one item each, so that listing them is one Query.
pub fn key_listing_pk(tenant: &Tenant) -> String {
    format!("KT#{}", tenant.as_str())
}

/// An API key as a DynamoDB item. The verification item carries `secret_hash`; the listing item
/// does not. No index attribute is set, so key items never appear in the event indexes. The
/// expiry is `key_expires_at`, not `expires_at`: that is the table's TTL attribute (epoch seconds),
/// and DynamoDB would delete the item, which must instead stay as a record of the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyItem {
    pub pk: String,
    pub sk: String,
    pub key_id: String,
    pub tenant: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash: Option<String>,
}

impl KeyItem {
    fn with_key(info: &KeyInfo, pk: String, sk: String) -> Self {
        let time = |t: &Option<chrono::DateTime<chrono::Utc>>| t.as_ref().map(time::to_rfc3339);
        Self {
            pk,
            sk,
            key_id: info.key_id.as_str().to_owned(),
            tenant: info.tenant.as_str().to_owned(),
            scopes: info.scopes.to_strings(),
            created_at: time::to_rfc3339(&info.created_at),
            key_expires_at: time(&info.expires_at),
            revoked_at: time(&info.revoked_at),
            secret_hash: None,
        }
    }

    /// The item `GetItem` finds when a request presents the key.
    pub fn verification(record: &KeyRecord) -> Self {
        let info = &record.info;
        Self {
            secret_hash: Some(record.secret_hash.to_hex()),
            ..Self::with_key(info, key_pk(&info.key_id), KEY_SK.to_owned())
        }
    }

    /// The item in the tenant's listing: everything but the hash.
    pub fn listing(info: &KeyInfo) -> Self {
        Self::with_key(
            info,
            key_listing_pk(&info.tenant),
            info.key_id.as_str().to_owned(),
        )
    }

    /// The public facts; `None` if the item was not written by this code.
    pub fn info(&self) -> Option<KeyInfo> {
        let time = |t: &Option<String>| match t {
            None => Some(None),
            Some(text) => time::parse_rfc3339(text).map(Some),
        };
        Some(KeyInfo {
            key_id: KeyId::parse(&self.key_id)?,
            tenant: Tenant::parse(&self.tenant).ok()?,
            scopes: Scopes::parse(self.scopes.iter().map(String::as_str))?,
            created_at: time::parse_rfc3339(&self.created_at)?,
            expires_at: time(&self.key_expires_at)?,
            revoked_at: time(&self.revoked_at)?,
        })
    }

    /// The whole record, from a verification item.
    pub fn record(&self) -> Option<KeyRecord> {
        Some(KeyRecord {
            info: self.info()?,
            secret_hash: SecretHash::from_hex(self.secret_hash.as_deref()?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::NewEvent;
    use serde_json::json;

    fn event(customer: Option<u64>) -> Event {
        let now = time::parse_rfc3339("2026-02-03T04:05:06.789Z").unwrap();
        let mut body = json!({"event_name": "User.Signed_In", "description": "d"});
        if let Some(c) = customer {
            body["customer_id"] = json!(c);
        }
        NewEvent::from_json(&body, now).unwrap().stamp(
            EventId::generate(),
            Tenant::default(),
            now,
            0,
        )
    }

    #[test]
    fn record_carries_every_index_key() {
        let e = event(Some(18));
        let r = EventRecord::new(&e, 8);
        assert_eq!(r.pk, format!("E#default#{}", e.id));
        assert_eq!(r.sk, "E");
        assert_eq!(r.ts, format!("2026-02-03T04:05:06.789000Z#{}", e.id));
        assert_eq!(r.ts.len(), 54);
        assert_eq!(r.np, "default#user.signed_in");
        assert_eq!(r.cp.as_deref(), Some("default#18"));
        assert!(r.tp.starts_with("default#"));
        assert_eq!(r.clone().into_event(), Some(e));
    }

    #[test]
    fn events_without_customer_stay_out_of_the_customer_index() {
        assert_eq!(EventRecord::new(&event(None), 8).cp, None);
    }

    #[test]
    fn shard_hash_is_stable_and_spreads() {
        let id = EventId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap();
        // Pinned: a change here would strand every stored event in the wrong shard.
        assert_eq!(shard_of(&id, 8), 0);
        assert_eq!(
            shard_of(&EventId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAW").unwrap(), 8),
            3
        );
        assert_eq!(shard_of(&id, 1), 0);
        let mut counts = [0u32; 8];
        for _ in 0..8000 {
            counts[shard_of(&EventId::generate(), 8) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn ts_yields_its_id() {
        let e = event(None);
        assert_eq!(id_of_ts(&ts(&e.created_at, &e.id)), Some(e.id));
    }

    #[test]
    fn key_items_round_trip_and_only_verification_carries_the_hash() {
        let now = time::parse_rfc3339("2026-02-03T04:05:06Z").unwrap();
        let tenant = Tenant::parse("acme").unwrap();
        let (key, mut record) = crate::auth::issue(tenant, Scopes::all(), Some(now), now);
        record.info.revoked_at = Some(now);
        let verification = KeyItem::verification(&record);
        assert_eq!(verification.pk, format!("K#{}", key.id()));
        assert_eq!(verification.sk, "K");
        assert_eq!(verification.scopes, ["logs:read", "logs:write"]);
        assert_eq!(verification.record(), Some(record.clone()));
        let listing = KeyItem::listing(&record.info);
        assert_eq!(listing.pk, "KT#acme");
        assert_eq!(listing.sk, key.id().as_str());
        assert_eq!(listing.secret_hash, None);
        assert_eq!(listing.info(), Some(record.info));
    }
}
