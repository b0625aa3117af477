//! The seal Lambda: builds its DynamoDB client once, then seals each stream batch of one shard.
//! The event source mapping sets a tumbling window, whose payload names the shard (see the lib).

use audit_aws::{sdk_config, Config, DynamoLog};
use audit_domain::seal::WriterKey;
use audit_seal::{windowed_response, Invocation, Seal};
use aws_lambda_events::event::dynamodb::TimeWindowEventResponse;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    audit_telemetry::init_tracing(config.log_format);
    let log = DynamoLog::from_sdk(&sdk_config(&config.sdk).await, &config.log_table);
    let seal = Seal::new(log, WriterKey::new(config.writer_key.expose()));
    let seal = &seal;
    run(service_fn(
        move |event: LambdaEvent<Invocation>| async move {
            let (response, _) = seal.invoke(event.payload).await?;
            Ok::<TimeWindowEventResponse, Error>(windowed_response(response))
        },
    ))
    .await
}
