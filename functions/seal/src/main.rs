//! The seal Lambda: builds its clients once, then seals each stream batch of one shard, or, when
//! its schedule invokes it, signs the checkpoints that are due. The stream mapping sets a tumbling
//! window, whose payload names the shard (see the lib); a scheduled event has no `Records`.

use audit_aws::{sdk_config, Config, DynamoLog, KmsSigner, S3Archive};
use audit_domain::seal::WriterKey;
use audit_seal::checkpoint::Checkpointer;
use audit_seal::{windowed_response, Invocation, Seal};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    audit_telemetry::init_tracing(config.log_format);
    let sdk = sdk_config(&config.sdk).await;
    let log = DynamoLog::from_sdk(&sdk, &config.log_table);
    let seal = Seal::new(log.clone(), WriterKey::new(config.writer_key.expose()));
    let checkpointer = Checkpointer::new(
        log,
        KmsSigner::from_sdk(&sdk, &config.signing_key),
        S3Archive::from_sdk(
            &sdk,
            &config.checkpoint_bucket,
            config.checkpoint_retention_days,
        ),
        &config.log_origin,
        config.seal_interval,
    );
    let (seal, checkpointer) = (&seal, &checkpointer);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        if event.payload.get("Records").is_some() {
            let invocation: Invocation = serde_json::from_value(event.payload)?;
            let (response, _) = seal.invoke(invocation).await?;
            Ok::<Value, Error>(serde_json::to_value(windowed_response(response))?)
        } else {
            checkpointer.run(chrono::Utc::now()).await?;
            Ok(Value::Null)
        }
    }))
    .await
}
