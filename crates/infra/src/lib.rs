//! Dev tooling, linked by no Lambda: resource bootstrap from the SAM template, and the SDK set-up for
//! an emulator. `infra/template.yaml` is the one source of truth for the table, its indexes, the
//! queue and the dead-letter queue: this crate reads it and creates the same resources on an emulator
//! (moto or LocalStack), so that local runs and tests never drift from what is deployed. `describe`
//! reads live resources back so a test can prove that the two agree.

mod create;
mod template;

pub use create::{
    describe, ensure, ensure_checkpoint_bucket, ensure_signing_key, queue_arn, remove,
};

use std::time::Duration;

use aws_sdk_dynamodb::error::DisplayErrorContext;

/// The deployed template, compiled in so that bootstrap cannot read a different copy.
pub const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Logical ids that `ensure` maps onto emulator resources.
const TABLE_ID: &str = "EventsTable";
const COUNTERS_TABLE_ID: &str = "CountersTable";
const LOG_TABLE_ID: &str = "LogTable";
const QUEUE_ID: &str = "EventsQueue";
const DEAD_LETTER_QUEUE_ID: &str = "EventsDeadLetterQueue";
/// SQS defaults, for attributes a template leaves out (the live queue reports them anyway).
const SQS_DEFAULT_VISIBILITY_TIMEOUT: u32 = 30;
const SQS_DEFAULT_MESSAGE_RETENTION: u32 = 345_600;
/// Real AWS takes seconds to a few minutes to activate a table with indexes; emulators are instant.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// The table as the template defines it: `(name, type)` attributes, `(name, HASH|RANGE)` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub attributes: Vec<(String, String)>,
    pub key_schema: Vec<(String, String)>,
    pub indexes: Vec<IndexSpec>,
    pub ttl_attribute: Option<String>,
    /// The stream's view type (`NEW_AND_OLD_IMAGES`), when the table has a stream: what the count
    /// function and the runner's stream poller read.
    pub stream_view_type: Option<String>,
}

/// One global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    pub projection_type: String,
    pub non_key_attributes: Vec<String>,
}

/// The queue attributes that matter to delivery; times in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub visibility_timeout: u32,
    pub message_retention: u32,
    /// Receives before SQS moves a message to the dead-letter queue; `None` means no redrive.
    pub max_receive_count: Option<u32>,
}

/// Everything the service needs from its infrastructure, as one comparable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfraSpec {
    pub table: TableSpec,
    pub counters_table: TableSpec,
    /// The sealed log: heads, tiles, lookups, checkpoints (no stream, no indexes).
    pub log_table: TableSpec,
    pub queue: QueueSpec,
    pub dead_letter_queue: QueueSpec,
}

/// Physical names to create; tests make them unique so that they run in parallel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    pub table: String,
    pub counters_table: String,
    pub log_table: String,
    /// The checkpoint signing key's alias, `alias/<name>`.
    pub signing_key: String,
    pub queue: String,
    pub dead_letter_queue: String,
}

impl ResourceNames {
    /// Names no other run uses, `<prefix>-<nanos>-<pid>-<n>-events` and so on, so that tests and
    /// benchmarks run in parallel against one emulator. `n` counts calls in this process, so two
    /// calls in the same nanosecond differ too.
    pub fn unique(prefix: &str) -> Self {
        static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = format!("{prefix}-{nanos}-{}-{n}", std::process::id());
        Self {
            table: format!("{base}-events"),
            counters_table: format!("{base}-counters"),
            log_table: format!("{base}-log"),
            signing_key: format!("alias/{base}-checkpoints"),
            queue: format!("{base}-queue"),
            dead_letter_queue: format!("{base}-dlq"),
        }
    }
}

/// What `ensure` created or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub table: String,
    pub counters_table: String,
    pub log_table: String,
    pub signing_key: String,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why bootstrap failed. SDK error types stay inside: callers see the message and the source chain.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// The template is not YAML at all.
    #[error("the template is not valid YAML")]
    Yaml(#[source] serde_yaml::Error),
    /// The template lacks something, or uses a construct this module does not resolve.
    #[error("template, {at}: {problem}")]
    Template { at: String, problem: String },
    /// A call to the emulator (or AWS) failed.
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
        #[source]
        source: BoxError,
    },
    /// A live resource answered with something that cannot be read back into a spec.
    #[error("{resource}: {problem}")]
    Unexpected { resource: String, problem: String },
}

pub(crate) fn aws_error<E>(operation: &'static str, err: E) -> InfraError
where
    E: std::error::Error + Send + Sync + 'static,
{
    InfraError::Aws {
        operation,
        message: DisplayErrorContext(&err).to_string(),
        source: Box::new(err),
    }
}

pub(crate) fn template_error(at: &str, problem: impl Into<String>) -> InfraError {
    InfraError::Template {
        at: at.to_owned(),
        problem: problem.into(),
    }
}

pub(crate) fn unexpected(resource: &str, problem: impl Into<String>) -> InfraError {
    InfraError::Unexpected {
        resource: resource.to_owned(),
        problem: problem.into(),
    }
}

#[cfg(test)]
mod tests;

/// `AWS_ENDPOINT_URL`, or the address where `make` starts the emulator: for tests and tools that
/// must only ever reach the emulator.
pub fn emulator_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".to_owned())
}

/// SDK configuration for an emulator (or a fault-injecting proxy in front of one) at `endpoint`:
/// a fixed region and dummy credentials, so that a test never picks up a real AWS profile. The
/// SDK's own settings (`AUDIT_SDK_TIMEOUT_SECONDS`) come from the environment, as for the functions.
pub async fn emulator_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let settings = audit_aws::SdkSettings::from_env()
        .unwrap_or_else(|error| panic!("cannot set up the SDK for the emulator: {error}"));
    audit_aws::sdk_loader(&settings)
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .load()
        .await
}
