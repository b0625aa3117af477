//! The typed configuration: every `AUDIT_*` variable a function reads, parsed from the environment
//! once at start-up. Every field has a default that works against the local emulator, so `make dev`
//! needs no settings at all, and a value that does not parse stops start-up with its name. How the
//! SDK is set up from it lives in `sdk`.

use std::time::Duration;

/// Re-exported so that tools setting `Config::auth` need no domain dependency.
pub use audit_domain::auth::AuthMode;
use audit_domain::auth::AuthPolicy;
use audit_domain::Tenant;
pub use audit_telemetry::LogFormat;
pub use audit_viewer::FrameAncestors;

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
    /// `AUDIT_COUNTERS_TABLE`: the table of the counters the count function keeps, and of its
    /// checkpoints. It is apart from the events table so that counter writes feed no stream.
    pub counters_table: String,
    /// `AUDIT_LOG_TABLE`: the sealed log's table (heads, tiles, lookups, checkpoints). It is apart
    /// from the events table so that the seal's writes feed no stream.
    pub log_table: String,
    /// `AUDIT_WRITER_KEY`: the key of the writer HMAC the drain stores on each event and the seal
    /// checks. In AWS it is resolved from an SSM parameter (`WriterKeyParameter`) for those two
    /// functions only; the default is for local use only.
    pub writer_key: Secret,
    /// `AUDIT_SIGNING_KEY`: the asymmetric KMS key (`ECC_NIST_P256`) that signs checkpoints: an id,
    /// an ARN or `alias/<name>`. Bootstrap creates the local default.
    pub signing_key: String,
    /// `AUDIT_LOG_ORIGIN`: the prefix of each log's origin line, `<prefix>/<tenant>`.
    pub log_origin: String,
    /// `AUDIT_SEAL_INTERVAL_SECONDS` (default 60): the least time between two checkpoints of one
    /// tenant's growing log.
    pub seal_interval: Duration,
    /// `AUDIT_CHECKPOINT_BUCKET`: the S3 bucket (Object Lock, `COMPLIANCE`) keeping a copy of every
    /// checkpoint as `checkpoints/<tenant>/<size>`.
    pub checkpoint_bucket: String,
    /// `AUDIT_CHECKPOINT_RETENTION_DAYS` (default 365): how long each copy is locked.
    pub checkpoint_retention_days: u32,
    /// `AUDIT_QUEUE_URL`: the SQS queue the write function enqueues to and the drain consumes.
    pub queue_url: String,
    /// `AUDIT_DRAIN_CONCURRENCY` (default 4): how many `BatchWriteItem` calls one drain invocation
    /// has in flight. The emulator numbers the stream records of racing writes out of order, so
    /// the fault suite's seal case sets 1 (README, "Known limits").
    pub drain_concurrency: usize,
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
    /// `AUDIT_LOG_FORMAT`: `json` (the default, for CloudWatch) or `text` (for people).
    pub log_format: LogFormat,
    /// `AUDIT_VIEWER_FRAME_ANCESTORS` (default `'none'`): the pages that may show the viewer in a
    /// frame, as CSP `frame-ancestors` sources (`'self'`, schemes, hosts), for people who embed it
    /// in their own admin pages. A value that could add a directive of its own stops start-up.
    pub viewer_frame_ancestors: FrameAncestors,
    /// `AUDIT_EXPORT_MAX_EVENTS` (default 5,000, at least 1): the most events one
    /// `GET /api/export` answer holds (the byte cap of 5 MiB applies as well). Lower it to keep
    /// each answer's time short; more than the default risks the read function's timeout.
    pub export_max_events: usize,
    /// How the SDK reaches AWS or the emulator.
    pub sdk: SdkSettings,
}

/// The settings of the SDK's HTTP client (see `sdk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkSettings {
    /// `AUDIT_SDK_TIMEOUT_SECONDS` (default 20, at least 1): the bound on each attempt of an SDK
    /// call. Benchmarks on large tables in the emulator raise it (moto re-reads a whole partition for
    /// every page of a COUNT query).
    pub attempt_timeout: Duration,
    /// `AUDIT_TLS_NATIVE_ROOTS` (`1` or `0`, default `0`): trust the system's certificate store
    /// rather than only the bundled AWS roots, for a proxy that re-signs TLS.
    pub native_roots: bool,
}

impl Default for SdkSettings {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(20),
            native_roots: false,
        }
    }
}

impl SdkSettings {
    /// Reads only the SDK's variables: for tools and tests that need no other configuration.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }

    fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            attempt_timeout: Duration::from_secs(vars.number(
                "AUDIT_SDK_TIMEOUT_SECONDS",
                20,
                1,
            )?),
            native_roots: vars.flag("AUDIT_TLS_NATIVE_ROOTS")?,
        })
    }
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
        Self::from_vars(&Vars::env())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String> + 'static,
    ) -> Result<Self, ConfigError> {
        Self::from_vars(&Vars(Box::new(lookup)))
    }

    fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            table: vars.text("AUDIT_TABLE", "audit-log-events"),
            counters_table: vars.text("AUDIT_COUNTERS_TABLE", "audit-log-counters"),
            log_table: vars.text("AUDIT_LOG_TABLE", "audit-log-log"),
            writer_key: Secret::new(
                vars.text("AUDIT_WRITER_KEY", audit_domain::seal::DEV_WRITER_KEY),
            ),
            signing_key: vars.text("AUDIT_SIGNING_KEY", "alias/audit-log-checkpoints"),
            log_origin: vars.text("AUDIT_LOG_ORIGIN", "audit-log"),
            seal_interval: Duration::from_secs(vars.number(
                "AUDIT_SEAL_INTERVAL_SECONDS",
                60,
                0,
            )?),
            checkpoint_bucket: vars.text("AUDIT_CHECKPOINT_BUCKET", "audit-log-checkpoints"),
            checkpoint_retention_days: vars.number("AUDIT_CHECKPOINT_RETENTION_DAYS", 365, 1)?,
            queue_url: vars.text(
                "AUDIT_QUEUE_URL",
                "http://127.0.0.1:4566/123456789012/audit-log-events",
            ),
            drain_concurrency: vars.number("AUDIT_DRAIN_CONCURRENCY", 4, 1)?,
            shards: vars.number("AUDIT_SHARDS", 8, 1)?,
            retention_days: vars.number("AUDIT_RETENTION_DAYS", 0, 0)?,
            cursor_key: Secret::new(vars.text("AUDIT_CURSOR_KEY", DEV_CURSOR_KEY)),
            tenant: vars
                .parsed("AUDIT_ANONYMOUS_TENANT", Tenant::parse)?
                .unwrap_or_default(),
            auth: vars
                .parsed("AUDIT_AUTH", |v| {
                    AuthMode::parse(v)
                        .ok_or_else(|| format!("expected required or optional, got {v:?}"))
                })?
                .unwrap_or(AuthMode::Required),
            key_cache_ttl: Duration::from_secs(vars.number("AUDIT_KEY_CACHE_SECONDS", 30, 0)?),
            log_format: vars
                .parsed("AUDIT_LOG_FORMAT", |v| {
                    LogFormat::parse(v).ok_or_else(|| format!("expected json or text, got {v:?}"))
                })?
                .unwrap_or_default(),
            viewer_frame_ancestors: vars
                .parsed("AUDIT_VIEWER_FRAME_ANCESTORS", |v| {
                    FrameAncestors::parse(v).map_err(|e| e.to_string())
                })?
                .unwrap_or_default(),
            export_max_events: vars.number("AUDIT_EXPORT_MAX_EVENTS", 5_000, 1)?,
            sdk: SdkSettings::from_vars(vars)?,
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

/// The environment, or a stand-in for tests. An empty value counts as unset.
struct Vars(Lookup);

type Lookup = Box<dyn Fn(&str) -> Option<String>>;

impl Vars {
    /// The process environment.
    fn env() -> Self {
        Self(Box::new(|name| std::env::var(name).ok()))
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }

    /// A string, or `default` when unset.
    fn text(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// A value `parse` accepts, or `None` when unset; a value it refuses is an error naming `name`.
    fn parsed<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(name)
            .map(|v| parse(&v).map_err(|reason| ConfigError { name, reason }))
            .transpose()
    }

    /// An integer of at least `min`, or `default` when unset.
    fn number<N>(&self, name: &'static str, default: N, min: N) -> Result<N, ConfigError>
    where
        N: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let value = self.parsed(name, |v| match v.parse::<N>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(format!("expected an integer >= {min}, got {v:?}")),
        })?;
        Ok(value.unwrap_or(default))
    }

    /// `1` or `0` (unset is `0`).
    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        let value = self.parsed(name, |v| match v {
            "1" => Ok(true),
            "0" => Ok(false),
            _ => Err(format!("expected 1 or 0, got {v:?}")),
        })?;
        Ok(value.unwrap_or(false))
    }
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
        Config::from_lookup(move |name| map.get(name).cloned())
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
    fn every_variable_is_typed_and_garbage_stops_start_up() {
        let c = config(&[
            ("AUDIT_LOG_FORMAT", "text"),
            ("AUDIT_SDK_TIMEOUT_SECONDS", "90"),
            ("AUDIT_TLS_NATIVE_ROOTS", "1"),
        ])
        .unwrap();
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.sdk.attempt_timeout, Duration::from_secs(90));
        assert!(c.sdk.native_roots);
        let d = config(&[]).unwrap();
        assert_eq!(d.log_format, LogFormat::Json);
        assert_eq!(d.sdk, SdkSettings::default());
        for (name, value) in [
            ("AUDIT_SDK_TIMEOUT_SECONDS", "twenty"),
            ("AUDIT_SDK_TIMEOUT_SECONDS", "0"),
            ("AUDIT_TLS_NATIVE_ROOTS", "yes"),
            ("AUDIT_LOG_FORMAT", "xml"),
            ("AUDIT_KEY_CACHE_SECONDS", "1.5"),
            ("AUDIT_EXPORT_MAX_EVENTS", "0"),
        ] {
            let error = config(&[(name, value)]).unwrap_err();
            assert_eq!(error.name, name);
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn frame_ancestors_default_to_none_and_refuse_a_second_directive() {
        assert_eq!(
            config(&[]).unwrap().viewer_frame_ancestors.as_str(),
            "'none'"
        );
        let c = config(&[(
            "AUDIT_VIEWER_FRAME_ANCESTORS",
            "'self' https://admin.example.com",
        )])
        .unwrap();
        assert_eq!(
            c.viewer_frame_ancestors.as_str(),
            "'self' https://admin.example.com"
        );
        let error = config(&[(
            "AUDIT_VIEWER_FRAME_ANCESTORS",
            "https://a.example; script-src *",
        )])
        .unwrap_err();
        assert_eq!(error.name, "AUDIT_VIEWER_FRAME_ANCESTORS");
    }

    #[test]
    fn secrets_do_not_print() {
        let c = config(&[("AUDIT_CURSOR_KEY", "hunter2")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
