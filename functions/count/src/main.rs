//! The count Lambda: builds its DynamoDB client once, then counts each stream batch of one shard.
//! The event source mapping sets a tumbling window, whose payload names the shard (see the lib).

use audit_aws::counters::DynamoCounters;
use audit_aws::{sdk_config, Config};
use audit_count::{windowed_response, Count, Invocation};
use aws_lambda_events::event::dynamodb::TimeWindowEventResponse;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // TODO(telemetry crate): `audit_telemetry::init_tracing()` from crates/telemetry replaces this.
    init_tracing();
    let config = Config::from_env()?;
    let client = audit_aws::endpoint::dynamodb_client(&sdk_config().await);
    let count = Count::new(DynamoCounters::new(client, &config.table));
    let count = &count;
    run(service_fn(
        move |event: LambdaEvent<Invocation>| async move {
            let invocation = event.payload;
            let shard = invocation.shard()?;
            let (response, _) = count.handle(&shard, invocation.records).await?;
            Ok::<TimeWindowEventResponse, Error>(windowed_response(response))
        },
    ))
    .await
}

/// TODO(telemetry crate): a stand-in until `audit_telemetry::init_tracing()` lands. `RUST_LOG`
/// filters (`Targets`, not `EnvFilter`, to keep the regex engine out of the binary); logs are JSON
/// for CloudWatch unless `AUDIT_LOG_FORMAT=text`.
fn init_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let text = std::env::var("AUDIT_LOG_FORMAT").is_ok_and(|v| v == "text");
    let layer = tracing_subscriber::fmt::layer().with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
    if text {
        registry.with(layer).init();
    } else {
        registry
            .with(layer.json().flatten_event(true).without_time())
            .init();
    }
}
