//! The read Lambda: reads its config and builds the DynamoDB client once, then serves API Gateway
//! requests with the library's handler.

use audit_aws::DynamoReader;
use audit_aws::{sdk_config, Config, DynamoKeys, DynamoLog, KmsSigner, SqsQueue};
use audit_domain::auth::Verifier;
use audit_read::{context, export_limits, ReadHandler};
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    audit_telemetry::init_tracing(config.log_format);
    let sdk = sdk_config(&config.sdk).await;
    // One client for events and keys: each client built is more cold-start work.
    let dynamo = audit_aws::endpoint::dynamodb_client(&sdk);
    let store = DynamoReader::new(dynamo.clone(), &config.table, &config.counters_table);
    let verifier = Verifier::new(
        DynamoKeys::new(dynamo.clone(), &config.table),
        config.auth_policy(),
    );
    let proofs = audit_read::proofs::Proofs::new(
        DynamoLog::new(dynamo.clone(), &config.log_table),
        KmsSigner::from_sdk(&sdk, &config.signing_key),
    );
    // Exports are recorded in the tenant's log through the write function's queue.
    let queue = SqsQueue::from_sdk(&sdk, &config.queue_url);
    let handler = ReadHandler::new(store, queue, context(&config), verifier)
        .with_frame_ancestors(config.viewer_frame_ancestors.clone())
        .with_retention_days(config.retention_days)
        .with_export_limits(export_limits(&config))
        .with_log(std::sync::Arc::new(proofs));
    let handler = &handler;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handler.handle(request).await)
    }))
    .await
}
