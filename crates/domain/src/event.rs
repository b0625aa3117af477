//! An audit event: the validated input a client sends, and the stamped event that is queued and stored.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::fields::FieldErrors;
use crate::id::EventId;
use crate::time;

/// Who owns an event: the tenant of the API key that wrote it. Every key of the table carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
// Serialised as the inner string (a newtype); read back through `parse`.
#[serde(try_from = "String")]
pub struct Tenant(String);

impl Tenant {
    /// The tenant a keyless request acts for under `AUDIT_AUTH=optional`, unless
    /// `AUDIT_ANONYMOUS_TENANT` names another.
    pub const DEFAULT: &'static str = "default";

    /// 1 to 64 characters of `[A-Za-z0-9_.-]`: never `#`, the key separator.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("invalid tenant {text:?}"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Tenant {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl TryFrom<String> for Tenant {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Tenant> for String {
    fn from(value: Tenant) -> Self {
        value.0
    }
}

/// Declares a string newtype that can only hold 1 to `$max` bytes.
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_BYTES: usize = $max;

            pub fn parse(text: String) -> Result<Self, String> {
                if text.is_empty() {
                    Err("must be provided".to_owned())
                } else if text.len() > Self::MAX_BYTES {
                    Err(format!("must not be more than {} bytes long", Self::MAX_BYTES))
                } else {
                    Ok(Self(text))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

bounded_text!(
    /// What happened, such as `user.signed_in`: 1 to 100 bytes of UTF-8.
    EventName,
    100
);

bounded_text!(
    /// A human-readable account of the event: 1 to 1000 bytes of UTF-8.
    Description,
    1000
);

impl EventName {
    /// The case-insensitive form that the name index and the catalogue are keyed by.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Consumer-specific fields: a JSON object of at most 4 KiB when serialised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    pub const MAX_BYTES: usize = 4096;

    pub fn parse(map: Map<String, Value>) -> Result<Self, String> {
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            Err(format!(
                "must not be more than {} bytes when serialised",
                Self::MAX_BYTES
            ))
        } else {
            Ok(Self(map))
        }
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a JSON object always serialises")
    }
}

impl TryFrom<Map<String, Value>> for Metadata {
    type Error = String;
    fn try_from(value: Map<String, Value>) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Metadata> for Map<String, Value> {
    fn from(value: Metadata) -> Self {
        value.0
    }
}

/// How far ahead of the server's clock a client's `created_at` may be.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// A validated event as a client sent it, before the service stamps it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_name: EventName,
    pub description: Description,
    pub created_at: Option<DateTime<Utc>>,
    pub customer_id: Option<u64>,
    pub metadata: Option<Metadata>,
}

/// Why a body could not become events: the body itself is broken (400), or fields are invalid (422).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("{0}")]
    Malformed(String),
    #[error("invalid fields: {0}")]
    Invalid(FieldErrors),
}

const FIELDS: [&str; 5] = [
    "event_name",
    "description",
    "created_at",
    "customer_id",
    "metadata",
];

impl NewEvent {
    /// Validates one JSON value as an event, collecting every field error. `now` bounds `created_at`.
    pub fn from_json(value: &Value, now: DateTime<Utc>) -> Result<Self, InputError> {
        let Value::Object(object) = value else {
            return Err(InputError::Malformed(
                "body must be a JSON object".to_owned(),
            ));
        };
        if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(InputError::Malformed(format!(
                "body contains unknown key {unknown:?}"
            )));
        }
        let mut errors = FieldErrors::new();
        let field = |name: &str| object.get(name).filter(|v| !v.is_null());

        let event_name = text_field(
            field("event_name"),
            "event_name",
            EventName::parse,
            &mut errors,
        );
        let description = text_field(
            field("description"),
            "description",
            Description::parse,
            &mut errors,
        );
        let created_at = field("created_at").and_then(|v| parse_created_at(v, now, &mut errors));
        let customer_id = field("customer_id").and_then(|v| parse_customer_id(v, &mut errors));
        let metadata = field("metadata").and_then(|v| match (v, audit_tlog::inexact_integer(v)) {
            (Value::Object(_), Some(at)) => {
                errors.add(
                    "metadata",
                    format!(
                        "holds an integer beyond ±{MAX_EXACT_INTEGER} at {at}: the sealed log hashes \
                         I-JSON (RFC 7493), whose numbers are doubles; send it as a string"
                    ),
                );
                None
            }
            (Value::Object(map), None) => Metadata::parse(map.clone())
                .map_err(|m| errors.add("metadata", m))
                .ok(),
            _ => {
                errors.add("metadata", "must be a JSON object");
                None
            }
        });

        match (event_name, description) {
            (Some(event_name), Some(description)) if errors.is_empty() => Ok(Self {
                event_name,
                description,
                created_at,
                customer_id,
                metadata,
            }),
            _ => Err(InputError::Invalid(errors)),
        }
    }

    /// Validates a batch: a JSON array of 1 to `max` events, errors keyed `<index>.<field>`.
    pub fn batch_from_json(
        value: &Value,
        now: DateTime<Utc>,
        max: usize,
    ) -> Result<Vec<Self>, InputError> {
        let Value::Array(items) = value else {
            return Err(InputError::Malformed(
                "body must be a JSON array of events".to_owned(),
            ));
        };
        let mut errors = FieldErrors::new();
        if items.is_empty() {
            errors.add("events", "must contain at least 1 event");
        } else if items.len() > max {
            errors.add("events", format!("must not contain more than {max} events"));
        }
        if !errors.is_empty() {
            return Err(InputError::Invalid(errors));
        }
        let mut events = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match Self::from_json(item, now) {
                Ok(event) => events.push(event),
                Err(InputError::Invalid(item_errors)) => {
                    errors.merge_prefixed(&index.to_string(), item_errors)
                }
                Err(InputError::Malformed(message)) => {
                    return Err(InputError::Malformed(format!("event {index}: {message}")))
                }
            }
        }
        errors.into_result(|| events).map_err(InputError::Invalid)
    }

    /// Gives the event its id and times. `retention_days` of 0 keeps it forever.
    pub fn stamp(
        self,
        id: EventId,
        tenant: Tenant,
        received_at: DateTime<Utc>,
        retention_days: u32,
    ) -> Event {
        let created_at = self.created_at.unwrap_or(received_at);
        let expires_at = (retention_days > 0).then(|| {
            (created_at.max(received_at) + Duration::days(i64::from(retention_days))).timestamp()
        });
        Event {
            id,
            tenant,
            event_name: self.event_name,
            description: self.description,
            customer_id: self.customer_id,
            created_at,
            received_at,
            metadata: self.metadata,
            expires_at,
        }
    }
}

fn text_field<T>(
    value: Option<&Value>,
    name: &str,
    parse: fn(String) -> Result<T, String>,
    errors: &mut FieldErrors,
) -> Option<T> {
    match value {
        None => {
            errors.add(name, "must be provided");
            None
        }
        Some(Value::String(text)) => parse(text.clone()).map_err(|m| errors.add(name, m)).ok(),
        Some(_) => {
            errors.add(name, "must be a string");
            None
        }
    }
}

fn parse_created_at(
    value: &Value,
    now: DateTime<Utc>,
    errors: &mut FieldErrors,
) -> Option<DateTime<Utc>> {
    const FIELD: &str = "created_at";
    let Some(t) = value.as_str().and_then(time::parse_rfc3339) else {
        errors.add(
            FIELD,
            "must be an RFC 3339 timestamp, such as 2024-01-31T09:30:00Z",
        );
        return None;
    };
    if t > now + MAX_CLOCK_SKEW {
        errors.add(FIELD, "must not be more than 5 minutes in the future");
        None
    } else if t < DateTime::UNIX_EPOCH {
        errors.add(FIELD, "must not be before 1970-01-01T00:00:00Z");
        None
    } else {
        Some(t)
    }
}

/// The range of a customer id in read filters (writes stop at [`MAX_EXACT_INTEGER`]): 0 to
/// `i64::MAX`, which every client language's signed 64-bit integer holds.
pub(crate) fn customer_id_in_range(n: i128) -> Result<u64, String> {
    if n < 0 {
        Err("must be zero or a positive integer".to_owned())
    } else if n > i128::from(i64::MAX) {
        Err(format!("must not be more than {}", i64::MAX))
    } else {
        Ok(n as u64)
    }
}

/// The largest integer a written event may hold, in `customer_id` or in `metadata`: 2^53 − 1, the
/// largest that I-JSON (RFC 7493) and so JCS (RFC 8785) represent exactly. Every stored event then
/// has a leaf in the sealed log that no other event shares.
pub const MAX_EXACT_INTEGER: u64 = audit_tlog::MAX_SAFE_INTEGER;

fn parse_customer_id(value: &Value, errors: &mut FieldErrors) -> Option<u64> {
    let whole = match value {
        Value::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
        _ => None,
    };
    let parsed = match whole {
        // Read filters take up to i64::MAX (events stored before this limit stay reachable);
        // writes stop at what the sealed log hashes exactly.
        Some(n) if n > i128::from(MAX_EXACT_INTEGER) => Err(format!(
            "must not be more than {MAX_EXACT_INTEGER} (2^53 − 1, the largest integer the sealed \
             log hashes exactly)"
        )),
        Some(n) => customer_id_in_range(n),
        None => Err("must be an integer".to_owned()),
    };
    parsed
        .map_err(|message| errors.add("customer_id", message))
        .ok()
}

/// A stamped event: what the queue carries and the store keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub tenant: Tenant,
    pub event_name: EventName,
    pub description: Description,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Unix seconds after which DynamoDB's TTL may delete the event; `None` keeps it forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// The event as the API shows it: `{"id", "created_at", "event_name", "description", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogView<'a> {
    pub id: &'a str,
    pub created_at: String,
    pub event_name: &'a str,
    pub description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<&'a Map<String, Value>>,
}

impl Event {
    pub fn view(&self) -> LogView<'_> {
        LogView {
            id: self.id.as_str(),
            created_at: time::to_rfc3339(&self.created_at),
            event_name: self.event_name.as_str(),
            description: self.description.as_str(),
            customer_id: self.customer_id,
            metadata: self.metadata.as_ref().map(Metadata::as_map),
        }
    }
}

#[cfg(test)]
mod tests;
