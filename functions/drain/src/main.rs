//! The drain Lambda: builds its DynamoDB client once, then handles SQS batches.

use std::time::Duration;

use audit_aws::{sdk_config, Config, DynamoStore};
use audit_domain::seal::WriterKey;
use audit_drain::{deadline_from_epoch_ms, Drain, ANSWER_MARGIN};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    audit_telemetry::init_tracing(config.log_format);
    let store = DynamoStore::from_sdk(&sdk_config(&config.sdk).await, &config.table);
    let drain = Drain::new(store, config.shards)
        .with_writer_key(WriterKey::new(config.writer_key.expose()))
        .with_concurrency(config.drain_concurrency);
    let drain = &drain;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = deadline_from_epoch_ms(
            event.context.deadline,
            ANSWER_MARGIN,
            Duration::from_secs(25),
        );
        let (response, _) = drain.handle(event.payload, deadline).await;
        Ok::<SqsBatchResponse, Error>(response)
    }))
    .await
}
