//! Shared pieces of the benchmarks: emulator clients, synthetic events, and DynamoDB's size rules.

pub mod size;

use audit_domain::{time, Event, EventId, NewEvent, Tenant};
use serde_json::json;

/// SDK config for the emulator named by `AWS_ENDPOINT_URL` (the Makefile sets it).
pub async fn sdk() -> aws_config::SdkConfig {
    audit_aws::sdk_config().await
}

/// Events of a realistic shape: 20 names, a 100-byte description, a customer (one of 50) on every other one,
/// spread over the last 30 days.
pub fn events(n: usize, seed: u64) -> Vec<Event> {
    let now = time::now();
    (0..n)
        .map(|i| {
            let k = mix((i as u64) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut body = json!({
                "event_name": format!("service.event_{:02}", k % 20),
                "description": format!("{:0<100}", format!("benchmark event {i}")),
                "created_at": time::to_rfc3339(&(now - chrono::Duration::seconds((k % (30 * 86_400)) as i64))),
            });
            if (k >> 32).is_multiple_of(2) {
                body["customer_id"] = json!(k % 50);
            }
            NewEvent::from_json(&body, now).expect("valid").stamp(EventId::generate(), Tenant::default(), now, 0)
        })
        .collect()
}

/// SplitMix64's finaliser: a well-spread pseudo-random number from a counter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
