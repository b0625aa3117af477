//! The write Lambda: builds its clients once, then serves API Gateway requests.

use audit_aws::{sdk_config, Config, SqsQueue};
use audit_write::WriteHandler;
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    audit_api::init_tracing();
    let config = Config::from_env()?;
    let queue = SqsQueue::from_sdk(&sdk_config().await, &config.queue_url);
    let handler = WriteHandler::new(queue, config.tenant.clone(), config.retention_days);
    let handler = &handler;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handler.handle(request).await)
    }))
    .await
}
