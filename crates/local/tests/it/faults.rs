//! The fault suite (`make test-faults`): whatever fails, an event that got a 201 is stored exactly
//! once. Each case sends a few thousand events through the API, breaks something on the way, waits
//! for the queue to drain, and compares the acknowledged ids with a scan of the table: none
//! missing, none under two items, nothing stored that was never sent.
//!
//! The cases are `#[ignore]`d so that `make test` stays fast; they run one at a time, since each
//! one loads the emulator on its own.

use crate::common;

// The cases, by what breaks.

mod crash;
mod delivery;
mod dynamo;
mod seal;
mod stream;

// What the cases share: the runner as a child process, the load and its ledger, the check, and the
// fault injectors.

mod check;
mod http_faults;
mod load;
mod outage;
mod runner;
mod unprocessed;

use std::time::{Duration, Instant};

/// Seconds before a message the drain did not delete comes back (the template's 180 is for AWS).
const VISIBILITY: u32 = 2;
/// How long a case waits for its queue to drain before comparing anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

struct Aws {
    sqs: aws_sdk_sqs::Client,
    dynamo: aws_sdk_dynamodb::Client,
}

/// Clients that reach the emulator directly, never through a case's proxy.
async fn aws() -> Aws {
    let sdk = common::sdk().await;
    Aws {
        sqs: aws_sdk_sqs::Client::new(&sdk),
        dynamo: aws_sdk_dynamodb::Client::new(&sdk),
    }
}

impl Aws {
    /// Waits for the case's queue to drain and its stored count to settle (at most `DRAIN_LIMIT`).
    async fn drained(&self, config: &audit_aws::Config) -> usize {
        check::wait_drained(
            &self.sqs,
            &self.dynamo,
            &config.queue_url,
            &config.table,
            DRAIN_LIMIT,
        )
        .await
    }

    /// The URL of the case's dead-letter queue, under the name bootstrap gave it.
    async fn dead_letter_queue(&self, config: &audit_aws::Config) -> Option<String> {
        self.sqs
            .get_queue_url()
            .queue_name(audit_local::resource_names(config).dead_letter_queue)
            .send()
            .await
            .ok()
            .and_then(|o| o.queue_url)
    }

    /// The end of a passing case: stops its runner, deletes its table and queues (so that a
    /// long-lived emulator does not keep thousands of items per run) and prints how long it took.
    /// A failing case panics before this and leaves them for inspection.
    async fn finish(&self, config: &audit_aws::Config, runner: runner::Runner, started: Instant) {
        drop(runner);
        let created = audit_infra::Created {
            table: config.table.clone(),
            log_table: config.log_table.clone(),
            signing_key: config.signing_key.clone(),
            counters_table: config.counters_table.clone(),
            queue_url: config.queue_url.clone(),
            dead_letter_queue_url: self.dead_letter_queue(config).await.unwrap_or_default(),
        };
        audit_infra::remove(&self.dynamo, &self.sqs, &created).await;
        println!("  case took {:?}", started.elapsed());
    }
}

/// The fault injectors' seed: `FAULT_SEED` to replay a run's choices, a fresh one otherwise.
fn seed() -> u64 {
    let seed = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("  FAULT_SEED={seed}");
    seed
}

/// Polls `condition` every 20 ms for at most `limit`; true if it held.
async fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn upstream_addr() -> std::net::SocketAddr {
    let endpoint = common::endpoint();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    host.parse()
        .expect("AWS_ENDPOINT_URL is http://<ip>:<port>")
}
