//! Boundary tables for event validation.

use super::*;
use serde_json::json;

fn now() -> DateTime<Utc> {
    time::parse_rfc3339("2026-01-15T12:00:00Z").unwrap()
}

fn errors_of(value: Value) -> FieldErrors {
    match NewEvent::from_json(&value, now()) {
        Err(InputError::Invalid(errors)) => errors,
        other => panic!("expected field errors, got {other:?}"),
    }
}

fn valid() -> Value {
    json!({"event_name": "new customer", "description": "account was created"})
}

fn with(field: &str, value: Value) -> Value {
    let mut body = valid();
    body[field] = value;
    body
}

#[test]
fn text_byte_limits() {
    // (field, value, expected error or None for accepted)
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("event_name", String::new(), Some("must be provided")),
        ("event_name", "a".into(), None),
        ("event_name", "a".repeat(100), None),
        (
            "event_name",
            "a".repeat(101),
            Some("must not be more than 100 bytes long"),
        ),
        // 50 two-byte characters are 100 bytes; 51 are 102.
        ("event_name", "é".repeat(50), None),
        (
            "event_name",
            "é".repeat(51),
            Some("must not be more than 100 bytes long"),
        ),
        // 25 four-byte characters are 100 bytes, though only 25 characters.
        ("event_name", "🦀".repeat(25), None),
        (
            "event_name",
            "🦀".repeat(26),
            Some("must not be more than 100 bytes long"),
        ),
        ("description", String::new(), Some("must be provided")),
        ("description", "d".into(), None),
        ("description", "d".repeat(1000), None),
        (
            "description",
            "d".repeat(1001),
            Some("must not be more than 1000 bytes long"),
        ),
        ("description", "€".repeat(333), None),
        (
            "description",
            "€".repeat(334),
            Some("must not be more than 1000 bytes long"),
        ),
    ];
    for (field, value, expected) in cases {
        let body = with(field, Value::String(value.clone()));
        let result = NewEvent::from_json(&body, now());
        match expected {
            None => assert!(
                result.is_ok(),
                "{field} of {} bytes: {result:?}",
                value.len()
            ),
            Some(message) => assert_eq!(
                errors_of(body).get(field),
                Some(message),
                "{} bytes",
                value.len()
            ),
        }
    }
}

#[test]
fn missing_and_null_required_fields_are_reported_together() {
    let errors = errors_of(json!({}));
    assert_eq!(errors.get("event_name"), Some("must be provided"));
    assert_eq!(errors.get("description"), Some("must be provided"));
    let errors = errors_of(json!({"event_name": null, "description": 7}));
    assert_eq!(errors.get("event_name"), Some("must be provided"));
    assert_eq!(errors.get("description"), Some("must be a string"));
}

#[test]
fn created_at_bounds() {
    let cases: &[(&str, Option<&str>)] = &[
        ("2026-01-15T12:00:00Z", None),
        ("2026-01-15T12:05:00Z", None),
        (
            "2026-01-15T12:05:00.000001Z",
            Some("must not be more than 5 minutes in the future"),
        ),
        (
            "2027-01-01T00:00:00Z",
            Some("must not be more than 5 minutes in the future"),
        ),
        ("1970-01-01T00:00:00Z", None),
        (
            "1969-12-31T23:59:59Z",
            Some("must not be before 1970-01-01T00:00:00Z"),
        ),
        (
            "1970-01-01T00:30:00+01:00",
            Some("must not be before 1970-01-01T00:00:00Z"),
        ),
        (
            "yesterday",
            Some("must be an RFC 3339 timestamp, such as 2024-01-31T09:30:00Z"),
        ),
    ];
    for (text, expected) in cases {
        let body = with("created_at", json!(text));
        match expected {
            None => assert!(NewEvent::from_json(&body, now()).is_ok(), "{text}"),
            Some(message) => {
                assert_eq!(errors_of(body).get("created_at"), Some(*message), "{text}")
            }
        }
    }
}

#[test]
fn customer_id_must_be_a_non_negative_integer() {
    let cases: &[(Value, Option<&str>)] = &[
        (json!(0), None),
        (json!(18), None),
        (json!(9_007_199_254_740_991u64), None),
        (
            json!(9_007_199_254_740_992u64),
            Some("must not be more than 9007199254740991 (2^53 − 1, the largest integer the sealed log hashes exactly)"),
        ),
        (
            json!(u64::MAX),
            Some("must not be more than 9007199254740991 (2^53 − 1, the largest integer the sealed log hashes exactly)"),
        ),
        (json!(-1), Some("must be zero or a positive integer")),
        (json!(1.5), Some("must be an integer")),
        (json!("18"), Some("must be an integer")),
    ];
    for (value, expected) in cases {
        let body = with("customer_id", value.clone());
        match expected {
            None => assert_eq!(
                NewEvent::from_json(&body, now()).unwrap().customer_id,
                value.as_u64()
            ),
            Some(message) => assert_eq!(
                errors_of(body).get("customer_id"),
                Some(*message),
                "{value}"
            ),
        }
    }
}

#[test]
fn metadata_is_an_object_of_at_most_4_kib() {
    let fits = json!({"k": "x".repeat(4096 - 8)});
    assert_eq!(serde_json::to_vec(&fits).unwrap().len(), 4096);
    assert!(NewEvent::from_json(&with("metadata", fits), now()).is_ok());
    let too_big = json!({"k": "x".repeat(4096 - 7)});
    assert_eq!(
        errors_of(with("metadata", too_big)).get("metadata"),
        Some("must not be more than 4096 bytes when serialised")
    );
    assert_eq!(
        errors_of(with("metadata", json!([1]))).get("metadata"),
        Some("must be a JSON object")
    );
}

#[test]
fn unknown_fields_and_non_objects_are_malformed() {
    let unknown = NewEvent::from_json(&with("colour", json!("red")), now());
    assert_eq!(
        unknown,
        Err(InputError::Malformed(
            "body contains unknown key \"colour\"".into()
        ))
    );
    for body in [json!([]), json!("text"), json!(3), json!(null)] {
        assert!(
            matches!(
                NewEvent::from_json(&body, now()),
                Err(InputError::Malformed(_))
            ),
            "{body}"
        );
    }
}

#[test]
fn batch_errors_are_keyed_by_index() {
    let body = json!([valid(), valid(), valid(), {"description": "no name"}, with("customer_id", json!(-2))]);
    match NewEvent::batch_from_json(&body, now(), 100) {
        Err(InputError::Invalid(errors)) => {
            assert_eq!(errors.get("3.event_name"), Some("must be provided"));
            assert_eq!(
                errors.get("4.customer_id"),
                Some("must be zero or a positive integer")
            );
            assert_eq!(errors.iter().count(), 2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn batch_size_limits() {
    let many = |n: usize| Value::Array(vec![valid(); n]);
    assert_eq!(
        NewEvent::batch_from_json(&many(1), now(), 100)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        NewEvent::batch_from_json(&many(100), now(), 100)
            .unwrap()
            .len(),
        100
    );
    for n in [0, 101] {
        assert!(
            matches!(NewEvent::batch_from_json(&many(n), now(), 100), Err(InputError::Invalid(e)) if e.get("events").is_some()),
            "{n}"
        );
    }
    assert!(matches!(
        NewEvent::batch_from_json(&valid(), now(), 100),
        Err(InputError::Malformed(_))
    ));
}

#[test]
fn stamping_defaults_created_at_and_sets_expiry() {
    let input = NewEvent::from_json(&valid(), now()).unwrap();
    let event = input
        .clone()
        .stamp(EventId::generate(), Tenant::default(), now(), 0);
    assert_eq!(event.created_at, now());
    assert_eq!(event.expires_at, None);
    let event = input.stamp(EventId::generate(), Tenant::default(), now(), 30);
    assert_eq!(
        event.expires_at,
        Some((now() + Duration::days(30)).timestamp())
    );
}

#[test]
fn queued_events_round_trip_and_revalidate() {
    let input = NewEvent::from_json(&with("metadata", json!({"ip": "10.0.0.1"})), now()).unwrap();
    let event = input.stamp(EventId::generate(), Tenant::default(), now(), 0);
    let text = serde_json::to_string(&event).unwrap();
    assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
    let tampered = text.replace("new customer", "");
    assert!(serde_json::from_str::<Event>(&tampered).is_err());
}

#[test]
fn metadata_integers_beyond_two_to_the_53_are_refused_where_they_are() {
    let ok = with(
        "metadata",
        json!({"n": 9_007_199_254_740_991u64, "m": -9_007_199_254_740_991i64, "f": 1e300}),
    );
    assert!(NewEvent::from_json(&ok, now()).is_ok());
    let body = with(
        "metadata",
        json!({"deep": {"list": [1, 9_007_199_254_740_992u64]}}),
    );
    let errors = errors_of(body);
    let message = errors.get("metadata").unwrap();
    assert!(message.contains("at /deep/list/1"), "{message}");
    assert!(message.contains("9007199254740991"), "{message}");
}
