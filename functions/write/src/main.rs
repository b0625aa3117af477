//! The write Lambda: builds its clients once, then serves API Gateway requests.

use audit_aws::{sdk_config, Config, DynamoKeys, SqsQueue};
use audit_domain::auth::Verifier;
use audit_write::WriteHandler;
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    audit_telemetry::init_tracing(config.log_format);
    let sdk = sdk_config(&config.sdk).await;
    let queue = SqsQueue::from_sdk(&sdk, &config.queue_url);
    let keys = DynamoKeys::from_sdk(&sdk, &config.table);
    let verifier = Verifier::new(keys, config.auth_policy());
    let handler = WriteHandler::new(queue, verifier, config.retention_days);
    let handler = &handler;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handler.handle(request).await)
    }))
    .await
}
