//! Event ids: a fresh ULID, or one derived from an `Idempotency-Key` so that a retry gets the same id.

use sha2::{Digest, Sha256};
use ulid::Ulid;

use crate::event::Tenant;

/// 26 Crockford base-32 characters. Every id has this width, which keeps index keys fixed-width.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    /// A new ULID: unique, and sortable by the time it was made.
    pub fn generate() -> Self {
        Self(Ulid::new().to_string())
    }

    /// The id an idempotency key stands for. The tenant is part of the hash, so two tenants using
    /// the same key never collide. `index` is the event's place in a batch write.
    pub fn derive(tenant: &Tenant, key: &IdempotencyKey, index: Option<usize>) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"audit-log/idempotency/v1\0");
        hash.update(tenant.as_str().as_bytes());
        hash.update(b"\0");
        hash.update(key.as_str().as_bytes());
        if let Some(index) = index {
            hash.update(b"\0");
            hash.update(index.to_string().as_bytes());
        }
        let digest = hash.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(Ulid::from(u128::from_be_bytes(bytes)).to_string())
    }

    /// Accepts any 26-character Crockford id, in either case, and returns its canonical form.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 26 {
            return None;
        }
        Ulid::from_string(text).ok().map(|u| Self(u.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The value of an `Idempotency-Key` header: 1 to 128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;

    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if text.is_empty() {
            return Err("must not be empty");
        }
        if text.len() > Self::MAX_LEN {
            return Err("must not be more than 128 characters long");
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must contain only visible ASCII characters");
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> IdempotencyKey {
        IdempotencyKey::parse(text).unwrap()
    }

    #[test]
    fn generated_ids_are_26_chars_and_distinct() {
        let a = EventId::generate();
        let b = EventId::generate();
        assert_eq!(a.as_str().len(), 26);
        assert_ne!(a, b);
    }

    #[test]
    fn the_same_key_derives_the_same_id() {
        let tenant = Tenant::default();
        assert_eq!(
            EventId::derive(&tenant, &key("order-7"), None),
            EventId::derive(&tenant, &key("order-7"), None)
        );
    }

    #[test]
    fn tenant_key_and_index_all_change_the_id() {
        let a = Tenant::parse("a").unwrap();
        let b = Tenant::parse("b").unwrap();
        let base = EventId::derive(&a, &key("k"), None);
        assert_ne!(base, EventId::derive(&b, &key("k"), None));
        assert_ne!(base, EventId::derive(&a, &key("k2"), None));
        assert_ne!(base, EventId::derive(&a, &key("k"), Some(0)));
        assert_ne!(
            EventId::derive(&a, &key("k"), Some(0)),
            EventId::derive(&a, &key("k"), Some(1))
        );
    }

    #[test]
    fn derived_ids_parse_as_ids() {
        let id = EventId::derive(&Tenant::default(), &key("x"), None);
        assert_eq!(EventId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(EventId::parse(&id.as_str().to_lowercase()), Some(id));
    }

    #[test]
    fn idempotency_key_limits() {
        let cases: &[(&str, bool)] = &[
            ("", false),
            ("a", true),
            (&"k".repeat(128), true),
            (&"k".repeat(129), false),
            ("has space", false),
            ("tab\there", false),
            ("ünïcode", false),
            ("order-42:retry_1/~!", true),
        ];
        for (text, ok) in cases {
            assert_eq!(IdempotencyKey::parse(text).is_ok(), *ok, "{text:?}");
        }
    }

    #[test]
    fn malformed_ids_do_not_parse() {
        for text in [
            "",
            "short",
            "01ARZ3NDEKTSV4RRFFQ69G5FA",
            "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
            "01ARZ3NDEKTSV4RRFFQ69G5FA!",
        ] {
            assert_eq!(EventId::parse(text), None, "{text}");
        }
    }
}
