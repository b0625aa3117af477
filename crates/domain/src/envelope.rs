//! The queue message format: a versioned JSON envelope of one or more events, and the packing of a
//! batch into as few messages as the queue's size limit allows.

use serde::{Deserialize, Serialize};

use crate::event::Event;

const VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Envelope<E> {
    v: u8,
    events: E,
}

/// Why a message body is not a set of events. Never retryable: the body will not change.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message is not an event envelope: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported envelope version {0}")]
    Version(u8),
    #[error("envelope holds no events")]
    Empty,
}

/// Serialises `events` into message bodies of at most `max_bytes` each, keeping their order.
///
/// A single event is at most about 5.5 KB (name, description, 4 KiB of metadata), so any sane
/// limit fits one; an event that alone exceeds the limit still gets a message of its own, and
/// the queue then refuses it, which the caller reports.
pub fn pack(events: &[Event], max_bytes: usize) -> Vec<String> {
    const OVERHEAD: usize = r#"{"v":1,"events":[]}"#.len();
    let mut bodies = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = OVERHEAD;
    for event in events {
        let json = serde_json::to_string(event).expect("an event always serialises");
        let added = json.len() + usize::from(!current.is_empty());
        if !current.is_empty() && size + added > max_bytes {
            bodies.push(wrap(&current));
            current.clear();
            size = OVERHEAD;
        }
        size += json.len() + usize::from(!current.is_empty());
        current.push(json);
    }
    if !current.is_empty() {
        bodies.push(wrap(&current));
    }
    bodies
}

fn wrap(events: &[String]) -> String {
    format!(r#"{{"v":{VERSION},"events":[{}]}}"#, events.join(","))
}

/// Reads a message body back into its events, validating each one again.
pub fn unpack(body: &str) -> Result<Vec<Event>, DecodeError> {
    let envelope: Envelope<Vec<Event>> = serde_json::from_str(body)?;
    if envelope.v != VERSION {
        return Err(DecodeError::Version(envelope.v));
    }
    if envelope.events.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(envelope.events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{NewEvent, Tenant};
    use crate::id::EventId;
    use serde_json::json;

    fn events(n: usize, description_len: usize) -> Vec<Event> {
        let now = crate::time::now();
        (0..n)
            .map(|i| {
                let body = json!({"event_name": format!("e{i}"), "description": "d".repeat(description_len)});
                NewEvent::from_json(&body, now).unwrap().stamp(EventId::generate(), Tenant::default(), now, 0)
            })
            .collect()
    }

    #[test]
    fn a_small_batch_is_one_message() {
        let batch = events(100, 50);
        let bodies = pack(&batch, 256 * 1024);
        assert_eq!(bodies.len(), 1);
        assert_eq!(unpack(&bodies[0]).unwrap(), batch);
    }

    #[test]
    fn a_large_batch_splits_under_the_limit_and_keeps_order() {
        let batch = events(100, 1000);
        let limit = 20_000;
        let bodies = pack(&batch, limit);
        assert!(bodies.len() > 1);
        assert!(
            bodies.iter().all(|b| b.len() <= limit),
            "{:?}",
            bodies.iter().map(String::len).collect::<Vec<_>>()
        );
        let back: Vec<Event> = bodies.iter().flat_map(|b| unpack(b).unwrap()).collect();
        assert_eq!(back, batch);
    }

    #[test]
    fn packing_is_tight() {
        // Each message must be full enough that the next event would not have fitted.
        let batch = events(60, 300);
        let limit = 5_000;
        let bodies = pack(&batch, limit);
        let one = serde_json::to_string(&batch[0]).unwrap().len();
        for body in &bodies[..bodies.len() - 1] {
            assert!(
                body.len() + one + 1 > limit - 20,
                "{} of {limit}",
                body.len()
            );
        }
    }

    #[test]
    fn garbage_and_wrong_versions_do_not_unpack() {
        assert!(matches!(unpack("not json"), Err(DecodeError::Json(_))));
        assert!(matches!(
            unpack(r#"{"v":2,"events":[]}"#),
            Err(DecodeError::Version(2))
        ));
        assert!(matches!(
            unpack(r#"{"v":1,"events":[]}"#),
            Err(DecodeError::Empty)
        ));
        assert!(matches!(
            unpack(r#"{"v":1,"events":[{"id":"x"}]}"#),
            Err(DecodeError::Json(_))
        ));
    }
}
