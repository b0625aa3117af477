//! JSON bodies parsed into a `serde_json::Value`, refusing an object that names a key twice.
//!
//! `serde_json::Value` keeps the last of duplicate keys, so `{"event_name":"a","event_name":"b"}`
//! would be stored as "b" while another reader of the same bytes might see "a". An audit record must
//! mean one thing, so such a body is malformed: a 400, at any depth, `metadata` included.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The prefix of the error that a duplicate key raises, so that the caller can tell it from a
/// syntax error.
pub const DUPLICATE_KEY: &str = "duplicate key ";

/// Parses `bytes` as JSON, refusing duplicate object keys.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A seed that builds a `Value` the way `serde_json` does, but checks each object's keys.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity, so the parser never hands one over; null is serde_json's
        // own answer for them all the same.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE_KEY}{key:?}")));
            }
            let value = map.next_value_seed(Strict)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#"{"a":[1,-2,3.5,true,null,"x",{"b":{}}],"c":18446744073709551615,"d":""}"#;
        assert_eq!(
            from_slice(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(from_slice(b" [ ] ").unwrap(), json!([]));
    }

    #[test]
    fn refuses_a_key_named_twice_at_any_depth() {
        for text in [
            r#"{"event_name":"a","event_name":"b"}"#,
            r#"{"metadata":{"k":1,"k":2}}"#,
            r#"[{"x":1},{"y":[{"z":1,"z":1}]}]"#,
        ] {
            let error = from_slice(text.as_bytes()).unwrap_err();
            assert!(error.is_data(), "{text}: {error}");
            assert!(error.to_string().starts_with(DUPLICATE_KEY), "{error}");
        }
        // The same key in different objects is fine.
        assert!(from_slice(br#"[{"x":1},{"x":1}]"#).is_ok());
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        let deep = "[".repeat(10_000);
        for text in ["{", "{\"a\":1}x", "nul", "{\"a\" 1}", deep.as_str()] {
            let error = from_slice(text.as_bytes()).unwrap_err();
            assert!(!error.is_data(), "{text}: {error}");
        }
    }
}
