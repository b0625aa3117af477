//! What the log's leaves commit to: the canonical bytes (RFC 8785, JCS) of each version of an
//! event, exactly as `GET /api/logs/{id}` answers it under `"log"`, and of each removal.
//!
//! JCS is the serde_jcs crate, over `serde_json::Value`. Of the Rust JCS crates it is the maintained
//! one (0.2, 2026; MIT or Apache-2.0; one file over serde_json and ryu-js, the ECMAScript number
//! formatter), tested against RFC 8785's Appendix B and the RFC author's test data. json-canon has
//! the same core but was last released in 2023 and is Apache-2.0 only. serde_jcs turns on
//! serde_json's `float_roundtrip`, which the leaves need: a decimal must parse to the same double
//! here as in a client's verifier, or the leaf would differ.
//!
//! JCS numbers are IEEE 754 doubles, as in I-JSON, so an integer beyond 2^53 - 1 would be rounded
//! (serde_jcs does so silently): two events differing only there would share a leaf, and a verifier
//! in another language would refuse or round it too. Such a number is refused here, naming where it
//! is, rather than hashed into a leaf that cannot tell them apart.

use serde_json::Value;

use crate::hash::{leaf_hash, Hash};

/// The largest integer that every JCS implementation represents exactly (I-JSON, RFC 7493 §2.2).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a JSON value has no leaf.
#[derive(Debug, thiserror::Error)]
pub enum LeafError {
    #[error("an event's leaf is made of a JSON object, not {0}")]
    NotAnObject(&'static str),
    /// The pointer (RFC 6901) names the number, e.g. `/customer_id`.
    #[error("the integer at {pointer} is beyond JCS's exact range of ±(2^53 - 1)")]
    InexactInteger { pointer: String },
    #[error("JCS refused the value")]
    Canonical(#[source] serde_json::Error),
}

/// How an event left the table, as its removal leaf says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Removal {
    /// DynamoDB's TTL removed it (the stream record's principal is the DynamoDB service).
    Expired,
    /// Anything else removed it.
    Deleted,
}

impl Removal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Deleted => "deleted",
        }
    }
}

/// RFC 8785 bytes of `value`, refusing integers that JCS would round.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, LeafError> {
    let mut pointer = String::new();
    check_integers(value, &mut pointer)?;
    serde_jcs::to_vec(value).map_err(LeafError::Canonical)
}

/// Where `value` holds an integer that JCS would round (an RFC 6901 pointer, "" for `value` itself),
/// if anywhere: the write path refuses such events, so that every stored event has a leaf.
pub fn inexact_integer(value: &Value) -> Option<String> {
    match check_integers(value, &mut String::new()) {
        Err(LeafError::InexactInteger { pointer }) => Some(pointer),
        _ => None,
    }
}

/// The leaf hash of one version of an event: `SHA-256(0x00 || JCS(log))`.
pub fn event_leaf(log: &Value) -> Result<Hash, LeafError> {
    if !log.is_object() {
        return Err(LeafError::NotAnObject(kind(log)));
    }
    canonical_json(log).map(|bytes| leaf_hash(&bytes))
}

/// The bytes of a removal leaf: `JCS({"id": id, "removed": "expired" | "deleted"})`.
pub fn removal_bytes(id: &str, removal: Removal) -> Vec<u8> {
    let value = serde_json::json!({ "id": id, "removed": removal.as_str() });
    serde_jcs::to_vec(&value).expect("an object of two strings always canonicalises")
}

/// The leaf hash of a removal.
pub fn removal_leaf(id: &str, removal: Removal) -> Hash {
    leaf_hash(&removal_bytes(id, removal))
}

fn check_integers(value: &Value, pointer: &mut String) -> Result<(), LeafError> {
    match value {
        Value::Number(number) => {
            let exact = match (number.as_u64(), number.as_i64()) {
                (Some(n), _) => n <= MAX_SAFE_INTEGER,
                (None, Some(n)) => n.unsigned_abs() <= MAX_SAFE_INTEGER,
                // A float is already a double: JCS prints it exactly.
                (None, None) => true,
            };
            if exact {
                Ok(())
            } else {
                Err(LeafError::InexactInteger {
                    pointer: pointer.clone(),
                })
            }
        }
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            within(pointer, &i.to_string(), |pointer| {
                check_integers(item, pointer)
            })
        }),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            let escaped = key.replace('~', "~0").replace('/', "~1");
            within(pointer, &escaped, |pointer| check_integers(item, pointer))
        }),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

/// Runs `check` with `/segment` appended to the pointer, then takes it off again.
fn within<T>(pointer: &mut String, segment: &str, check: impl FnOnce(&mut String) -> T) -> T {
    let len = pointer.len();
    pointer.push('/');
    pointer.push_str(segment);
    let result = check(pointer);
    pointer.truncate(len);
    result
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(value: &Value) -> String {
        String::from_utf8(canonical_json(value).unwrap()).unwrap()
    }

    #[test]
    fn an_event_leaf_hashes_its_canonical_bytes() {
        let log = json!({
            "id": "01M8N395JPG0FQ815FX6Z4NTVH",
            "event_name": "new customer",
            "description": "account was created for a given identity",
            "customer_id": 18,
            "created_at": "2026-11-30T02:06:59.158531Z",
        });
        let bytes = br#"{"created_at":"2026-11-30T02:06:59.158531Z","customer_id":18,"description":"account was created for a given identity","event_name":"new customer","id":"01M8N395JPG0FQ815FX6Z4NTVH"}"#;
        assert_eq!(event_leaf(&log).unwrap(), leaf_hash(bytes));
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_leaf() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(event_leaf(&a).unwrap(), event_leaf(&b).unwrap());
    }

    #[test]
    fn a_changed_field_changes_the_leaf() {
        let a = json!({"id": "x", "description": "from 10.0.0.7"});
        let b = json!({"id": "x", "description": "from 10.0.0.8"});
        assert_ne!(event_leaf(&a).unwrap(), event_leaf(&b).unwrap());
    }

    #[test]
    fn only_an_object_is_an_event() {
        for value in [json!(null), json!([1]), json!("log"), json!(1)] {
            assert!(matches!(event_leaf(&value), Err(LeafError::NotAnObject(_))));
        }
    }

    #[test]
    fn removal_leaves_name_the_id_and_how() {
        assert_eq!(
            removal_bytes("01M8N395JPG0FQ815FX6Z4NTVH", Removal::Expired),
            br#"{"id":"01M8N395JPG0FQ815FX6Z4NTVH","removed":"expired"}"#
        );
        assert_eq!(
            removal_bytes("a\"b", Removal::Deleted),
            br#"{"id":"a\"b","removed":"deleted"}"#
        );
        assert_ne!(
            removal_leaf("x", Removal::Expired),
            removal_leaf("x", Removal::Deleted)
        );
    }

    #[test]
    fn a_removal_is_never_an_event_of_the_same_id() {
        // An event's object has other keys, so the two JCS texts differ; this pins that the
        // removal is its own shape.
        let event = json!({"id": "x", "removed": "expired", "event_name": "e"});
        assert_ne!(
            event_leaf(&event).unwrap(),
            removal_leaf("x", Removal::Expired)
        );
    }

    #[test]
    fn integers_within_2_to_the_53_are_exact() {
        let max = MAX_SAFE_INTEGER;
        let min = -(max as i64);
        assert_eq!(
            text(&json!({"a": max, "b": min})),
            r#"{"a":9007199254740991,"b":-9007199254740991}"#
        );
    }

    #[test]
    fn integers_beyond_2_to_the_53_are_refused_by_pointer() {
        let cases = [
            (
                json!({"customer_id": 9_007_199_254_740_992u64}),
                "/customer_id",
            ),
            (json!({"customer_id": i64::MAX}), "/customer_id"),
            (
                json!({"metadata": {"a/b": [0, -9_007_199_254_740_992i64]}}),
                "/metadata/a~1b/1",
            ),
        ];
        for (value, expected) in cases {
            match canonical_json(&value) {
                Err(LeafError::InexactInteger { pointer }) => assert_eq!(pointer, expected),
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn floats_print_as_ecmascript_does() {
        assert_eq!(
            text(&json!([1.0, 0.5, -0.0, 1e21, 1e-7])),
            "[1,0.5,0,1e+21,1e-7]"
        );
    }
}
