//! The read Lambda: reads its config and builds the DynamoDB client once, then serves API Gateway
//! requests with the library's handler.

use audit_aws::index::DynamoReader;
use audit_aws::{sdk_config, Config};
use audit_read::{context, ReadHandler};
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    audit_api::init_tracing();
    let config = Config::from_env()?;
    let store = DynamoReader::from_sdk(&sdk_config().await, &config.table);
    let handler = ReadHandler::new(store, context(&config));
    let handler = &handler;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handler.handle(request).await)
    }))
    .await
}
