//! The count Lambda: builds its DynamoDB client once, then counts each stream batch of one shard.
//! The event source mapping sets a tumbling window, whose payload names the shard (see the lib).

use audit_aws::counters::DynamoCounters;
use audit_aws::{sdk_config, Config};
use audit_count::{windowed_response, Count, Invocation};
use aws_lambda_events::event::dynamodb::TimeWindowEventResponse;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    audit_telemetry::init_tracing(config.log_format);
    let client = audit_aws::endpoint::dynamodb_client(&sdk_config(&config.sdk).await);
    let count = Count::new(DynamoCounters::new(client, &config.counters_table));
    let count = &count;
    run(service_fn(
        move |event: LambdaEvent<Invocation>| async move {
            let (response, _) = count.invoke(event.payload).await?;
            Ok::<TimeWindowEventResponse, Error>(windowed_response(response))
        },
    ))
    .await
}
