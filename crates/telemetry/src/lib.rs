//! What every function logs and measures with, and nothing else: the `tracing` set-up, CloudWatch
//! embedded-metric lines and error chains. The HTTP functions, the drain and the stream functions all
//! link it, so it depends on neither `lambda_http` nor the AWS SDK.

pub mod metrics;

use std::sync::OnceLock;

/// How log lines are written: `AUDIT_LOG_FORMAT`, parsed with the rest of the typed config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// JSON lines, one per event, which CloudWatch Logs Insights can query (the default, Lambda's).
    #[default]
    Json,
    /// Lines for people (`make dev`, tests), where metric lines go to the debug log instead.
    Text,
}

impl LogFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "json" => Some(Self::Json),
            "text" => Some(Self::Text),
            _ => None,
        }
    }
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The format `init_tracing` set up; JSON when nothing set one up yet.
pub fn log_format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// Sets up `tracing` in `format`, at the level `RUST_LOG` names (default `info`). A second call
/// (tests, the local runner) keeps the first subscriber and format.
pub fn init_tracing(format: LogFormat) {
    // `Targets` parses the usual `info,audit_aws=debug` syntax without EnvFilter's regex engine,
    // which would add about a megabyte to every Lambda binary.
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    if FORMAT.set(format).is_err() {
        return;
    }
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .without_time()
                    .with_target(false),
            )
            .try_init(),
    };
}

/// `error: cause: cause`, so the log keeps the whole story of a failure. Each error's own message
/// says one thing (see docs/ARCHITECTURE.md, "Errors"), so nothing is printed twice.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_parse_and_refuse_others() {
        assert_eq!(LogFormat::parse("json"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("TEXT"), None);
    }

    #[test]
    fn error_chains_name_every_cause_once() {
        let inner = std::io::Error::other("connection refused");
        assert_eq!(
            error_chain(&Wrapped(inner)),
            "dispatch failed: connection refused"
        );
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("dispatch failed")
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
