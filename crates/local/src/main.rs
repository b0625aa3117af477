//! `audit-local`: runs the whole service on 127.0.0.1 against the emulator. Ctrl-C stops it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use audit_aws::{sdk_config, Config, DynamoKeys};
use audit_domain::auth::AuthMode;
use audit_local::{start, Settings};

/// The seed's port.
const DEFAULT_LISTEN: &str = "127.0.0.1:3050";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listen: SocketAddr = std::env::var("AUDIT_LISTEN")
        .unwrap_or_else(|_| DEFAULT_LISTEN.to_owned())
        .parse()
        .context("AUDIT_LISTEN must be an address such as 127.0.0.1:3050")?;
    // Failed messages come back after this many seconds locally (the template's 180 s is for AWS).
    let visibility_timeout = std::env::var("AUDIT_LOCAL_VISIBILITY_TIMEOUT")
        .ok()
        .map(|v| v.parse::<u32>())
        .transpose()
        .context("AUDIT_LOCAL_VISIBILITY_TIMEOUT must be a number of seconds")?
        .or(Some(5));
    let config = Config::from_env()?;
    audit_telemetry::init_tracing(config.log_format);
    let sdk = sdk_config(&config.sdk).await;
    let dev_keys = DynamoKeys::from_sdk(&sdk, &config.table);
    let keyless = (config.auth == AuthMode::Optional).then(|| config.tenant.clone());
    match std::env::args().nth(1).as_deref() {
        // Only create the resources (for LocalStack users and scripts).
        Some("bootstrap") => {
            let created = audit_local::bootstrap(&config, &sdk, visibility_timeout).await?;
            eprintln!(
                "created or found: table {}, counters {}, log {}, queue {}, DLQ {}, key {}, bucket {}",
                created.table,
                created.counters_table,
                created.log_table,
                created.queue_url,
                created.dead_letter_queue_url,
                created.signing_key,
                config.checkpoint_bucket,
            );
            return Ok(());
        }
        // `make watch`: the functions run under `cargo lambda watch`; this serves the API and
        // runs the event source mappings and the schedule against them.
        Some("watch") => {
            let invoke = std::env::var("AUDIT_LOCAL_INVOKE_URL")
                .unwrap_or_else(|_| audit_local::remote::DEFAULT_INVOKE_URL.to_owned());
            let watching =
                audit_local::remote::start(&config, &sdk, listen, visibility_timeout, &invoke)
                    .await
                    .context("the local runner could not start")?;
            eprintln!(
                "audit log: http://{}  (functions under cargo lambda watch at {invoke}; Ctrl-C stops)",
                watching.addr
            );
            greet(keyless, dev_keys, watching.addr).await?;
            tokio::signal::ctrl_c().await?;
            eprintln!("stopping");
            watching.stop().await;
            return Ok(());
        }
        Some(other) => anyhow::bail!("unknown command {other:?}; expected bootstrap or watch"),
        None => {}
    }
    let running = start(Settings {
        config,
        sdk,
        listen,
        visibility_timeout,
        poll_wait: Duration::from_secs(2),
        stream_deliveries: 1,
        seal: true,
    })
    .await
    .context("the local runner could not start")?;
    tracing::info!(
        url = %format!("http://{}", running.addr),
        table = %running.table,
        queue = %running.queue_url,
        "audit log listening"
    );
    eprintln!("audit log: http://{}  (Ctrl-C stops)", running.addr);
    greet(keyless, dev_keys, running.addr).await?;
    tokio::signal::ctrl_c().await?;
    eprintln!("stopping");
    running.stop().await;
    Ok(())
}

/// Tells a person how to reach the service: keyless access, and `make dev`'s key.
async fn greet(
    keyless: Option<audit_domain::Tenant>,
    dev_keys: DynamoKeys,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    if let Some(tenant) = keyless {
        eprintln!(
            "AUDIT_AUTH=optional: a request without an API key acts as tenant {}",
            tenant.as_str()
        );
    }
    // `make dev` sets this: a working key for tenant `dev`, printed for people, never logged.
    if let Some(path) = std::env::var_os("AUDIT_DEV_KEY_FILE") {
        let path = std::path::PathBuf::from(path);
        let key = audit_local::devkey::ensure(&path, dev_keys).await?.expose();
        eprintln!(
            "dev API key (tenant {}, logs:read logs:write), kept in {}:\n  {key}\n\
             try:\n  BODY='{{\"event_name\":\"new customer\",\"description\":\"account was created\"}}'\n  \
             curl -H \"Authorization: Bearer {key}\" -d \"$BODY\" {addr}/api/write\n  \
             curl -H \"Authorization: Bearer {key}\" {addr}/api/read",
            audit_local::devkey::DEV_TENANT,
            path.display(),
        );
    }
    Ok(())
}
