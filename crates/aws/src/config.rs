//! The typed configuration, read from the environment once at start-up. Every field has a default
//! that works against the local emulator, so `make dev` needs no settings at all.

use std::time::Duration;

/// Re-exported so that tools setting `Config::auth` need no domain dependency.
pub use audit_domain::auth::AuthMode;
use audit_domain::auth::AuthPolicy;
use audit_domain::Tenant;

/// A secret that cannot be printed by accident: `Debug` shows only that it is there.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value; grep for it to audit every use.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What every function and the local runner need to know about their surroundings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `AUDIT_TABLE`: the DynamoDB table of events and the name catalogue.
    pub table: String,
    /// `AUDIT_QUEUE_URL`: the SQS queue the write function enqueues to and the drain consumes.
    pub queue_url: String,
    /// `AUDIT_SHARDS`: how many `by_time` partitions per tenant. Writers and readers must agree, so
    /// it is a deploy parameter, never changed on a live table without a migration.
    pub shards: u32,
    /// `AUDIT_RETENTION_DAYS`: after how many days DynamoDB's TTL may delete an event; 0 keeps it.
    pub retention_days: u32,
    /// `AUDIT_CURSOR_KEY`: the HMAC key that signs read cursors. The default is for local use only.
    pub cursor_key: Secret,
    /// `AUDIT_ANONYMOUS_TENANT` (default `default`): the tenant a request without any API key acts
    /// for when `auth` is `optional`. `make dev` sets it to the dev key's tenant, so that a request
    /// with that key and one without see the same events.
    pub tenant: Tenant,
    /// `AUDIT_AUTH`: `required` (the default, and the template's) or `optional`, where a request
    /// with no key acts for `tenant` with every scope (for `make dev`); a presented key is always
    /// verified.
    pub auth: AuthMode,
    /// `AUDIT_KEY_CACHE_SECONDS` (default 30): how long an instance trusts a key it has read, so
    /// the longest a revocation takes to reach every warm instance. Lower means faster revocation
    /// and one `GetItem` per key per instance that often.
    pub key_cache_ttl: Duration,
}

/// The cursor key used when none is configured; fine on a laptop, never in AWS.
pub const DEV_CURSOR_KEY: &str = "local-development-cursor-key-not-for-production";

/// A setting that is present but unreadable. Start-up stops rather than guessing.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} has an invalid value: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &str, default: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let number = |name: &'static str, default: u32, min: u32| -> Result<u32, ConfigError> {
            match lookup(name).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if n >= min => Ok(n),
                    _ => Err(ConfigError {
                        name,
                        reason: format!("expected an integer >= {min}, got {v:?}"),
                    }),
                },
            }
        };
        Ok(Self {
            table: text("AUDIT_TABLE", "audit-log-events"),
            queue_url: text(
                "AUDIT_QUEUE_URL",
                "http://127.0.0.1:4566/123456789012/audit-log-events",
            ),
            shards: number("AUDIT_SHARDS", 8, 1)?,
            retention_days: number("AUDIT_RETENTION_DAYS", 0, 0)?,
            cursor_key: Secret::new(text("AUDIT_CURSOR_KEY", DEV_CURSOR_KEY)),
            tenant: match lookup("AUDIT_ANONYMOUS_TENANT").filter(|v| !v.is_empty()) {
                None => Tenant::default(),
                Some(v) => Tenant::parse(&v).map_err(|reason| ConfigError {
                    name: "AUDIT_ANONYMOUS_TENANT",
                    reason,
                })?,
            },
            auth: match lookup("AUDIT_AUTH").filter(|v| !v.is_empty()) {
                None => AuthMode::Required,
                Some(v) => AuthMode::parse(&v).ok_or_else(|| ConfigError {
                    name: "AUDIT_AUTH",
                    reason: format!("expected required or optional, got {v:?}"),
                })?,
            },
            key_cache_ttl: Duration::from_secs(number("AUDIT_KEY_CACHE_SECONDS", 30, 0)?.into()),
        })
    }

    /// How the functions verify API keys under this configuration.
    pub fn auth_policy(&self) -> AuthPolicy {
        AuthPolicy {
            anonymous: self.tenant.clone(),
            ..AuthPolicy::new(self.auth).with_ttl(self.key_cache_ttl)
        }
    }
}

/// The AWS SDK configuration. Credentials, region and `AWS_ENDPOINT_URL` come from the standard
/// environment, so the same code reaches the emulator locally and AWS when deployed.
///
/// When the environment holds static credentials and a region, as it always does in Lambda (and under
/// `make`), the configuration is built from it directly. The default chain's loader reads profile
/// files and sets up providers that Lambda never uses, and that cost about 10 ms of every cold start.
/// Without them (an operator's laptop with profiles or SSO) the default chain runs as usual.
pub async fn sdk_config() -> aws_config::SdkConfig {
    match from_environment(|name| std::env::var(name).ok()) {
        Some(config) => config,
        None => sdk_loader().load().await,
    }
}

/// The configuration the default chain would find in the environment, built without the chain.
fn from_environment(var: impl Fn(&str) -> Option<String>) -> Option<aws_config::SdkConfig> {
    use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"))?;
    let credentials = Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "environment",
    );
    let mut builder = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http_client())
        .timeout_config(timeouts())
        .retry_config(aws_config::retry::RetryConfig::standard())
        .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(
            aws_smithy_async::rt::sleep::TokioSleep::new(),
        ))
        .time_source(aws_smithy_async::time::SharedTimeSource::new(
            aws_smithy_async::time::SystemTimeSource::new(),
        ));
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    Some(builder.build())
}

/// The SDK's default loader with the HTTPS client this project uses: rustls on ring, which keeps
/// aws-lc (a large C library) out of the Lambda binaries. Certificates load on first use, not at init.
pub fn sdk_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts())
}

/// `AWS_ENDPOINT_URL`, or the address where `make` starts the emulator: for tests and tools that
/// must only ever reach the emulator.
pub fn emulator_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".to_owned())
}

/// SDK configuration for an emulator (or a fault-injecting proxy in front of one) at `endpoint`:
/// a fixed region and dummy credentials, so that a test never picks up a real AWS profile.
pub async fn emulator_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    sdk_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .load()
        .await
}

/// Root certificates of AWS's endpoints (see `certs/README.md`).
const AWS_ROOTS: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// A TLS context that trusts only the bundled AWS roots, not the system's store.
fn aws_roots_context(
) -> Result<aws_smithy_http_client::tls::TlsContext, aws_smithy_http_client::HttpClientError> {
    use aws_smithy_http_client::tls::{TlsContext, TrustStore};
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AWS_ROOTS);
    TlsContext::builder().with_trust_store(trust).build()
}

fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let builder =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    if std::env::var("AUDIT_TLS_NATIVE_ROOTS").is_ok_and(|v| v == "1") {
        return builder.build_https();
    }
    match aws_roots_context() {
        Ok(context) => builder.tls_context(context).build_https(),
        // The bundled file is fixed at build time; should it ever not parse, the system store serves.
        Err(_) => builder.build_https(),
    }
}

/// Bounds on every SDK call, so that an endpoint that swallows packets cannot hang the local runner
/// or a drain forever. Generous on purpose: in AWS a call takes milliseconds and the Lambda timeout
/// bounds the rest, while an emulator can take seconds over a large partition (moto re-reads a whole
/// partition for every page of a COUNT query).
/// `AUDIT_SDK_TIMEOUT_SECONDS` (default 20) sets the per-attempt bound; benchmarks on large tables in
/// the emulator raise it.
fn timeouts() -> aws_config::timeout::TimeoutConfig {
    use std::time::Duration;
    let attempt = std::env::var("AUDIT_SDK_TIMEOUT_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(20);
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(attempt))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_serve_the_local_emulator() {
        let c = config(&[]).unwrap();
        assert_eq!(c.table, "audit-log-events");
        assert_eq!(c.shards, 8);
        assert_eq!(c.retention_days, 0);
        assert_eq!(c.cursor_key.expose(), DEV_CURSOR_KEY);
        assert_eq!(c.auth, AuthMode::Required);
        assert_eq!(c.key_cache_ttl, Duration::from_secs(30));
    }

    #[test]
    fn auth_mode_is_read_and_checked() {
        assert_eq!(
            config(&[("AUDIT_AUTH", "optional")]).unwrap().auth,
            AuthMode::Optional
        );
        assert_eq!(
            config(&[("AUDIT_AUTH", "off")]).unwrap_err().name,
            "AUDIT_AUTH"
        );
        let c = config(&[("AUDIT_KEY_CACHE_SECONDS", "2")]).unwrap();
        assert_eq!(c.auth_policy().ttl, Duration::from_secs(2));
        assert_eq!(c.auth_policy().miss_ttl, Duration::from_secs(2));
        assert_eq!(c.auth_policy().anonymous, Tenant::default());
        let c = config(&[("AUDIT_ANONYMOUS_TENANT", "dev")]).unwrap();
        assert_eq!(c.auth_policy().anonymous, Tenant::parse("dev").unwrap());
        assert_eq!(
            config(&[("AUDIT_ANONYMOUS_TENANT", "no#hash")])
                .unwrap_err()
                .name,
            "AUDIT_ANONYMOUS_TENANT"
        );
    }

    #[test]
    fn invalid_numbers_stop_start_up() {
        assert_eq!(
            config(&[("AUDIT_SHARDS", "0")]).unwrap_err().name,
            "AUDIT_SHARDS"
        );
        assert_eq!(
            config(&[("AUDIT_RETENTION_DAYS", "-1")]).unwrap_err().name,
            "AUDIT_RETENTION_DAYS"
        );
        assert_eq!(config(&[("AUDIT_SHARDS", "16")]).unwrap().shards, 16);
    }

    #[test]
    fn sdk_config_comes_straight_from_the_environment_when_it_can() {
        let env: HashMap<&str, &str> = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ]
        .into_iter()
        .collect();
        let config =
            from_environment(|n| env.get(n).map(|v| v.to_string())).expect("complete environment");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:4566"));
        assert!(config.credentials_provider().is_some());
        // Without credentials in the environment the default chain decides.
        assert!(
            from_environment(|n| (n == "AWS_REGION").then(|| "eu-west-1".to_owned())).is_none()
        );
    }

    #[test]
    fn the_bundled_aws_roots_parse() {
        let pem = String::from_utf8(AWS_ROOTS.to_vec()).unwrap();
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        // What http_client() uses; should it fail, that client falls back to the system store.
        assert!(aws_roots_context().is_ok());
    }

    #[test]
    fn secrets_do_not_print() {
        let c = config(&[("AUDIT_CURSOR_KEY", "hunter2")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
