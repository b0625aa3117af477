//! The AWS SDK's set-up from the typed config: credentials and region straight from the environment
//! when it holds them (as in Lambda), the HTTPS client (rustls on ring, AWS's roots only), and the
//! per-attempt timeouts. `AWS_ENDPOINT_URL` is the only thing that points it at an emulator.

use std::time::Duration;

use crate::config::SdkSettings;

/// The AWS SDK configuration. Credentials, region and `AWS_ENDPOINT_URL` come from the standard
/// environment, so the same code reaches the emulator locally and AWS when deployed.
///
/// When the environment holds static credentials and a region, as it always does in Lambda (and under
/// `make`), the configuration is built from it directly. The default chain's loader reads profile
/// files and sets up providers that Lambda never uses, and that cost about 10 ms of every cold start.
/// Without them (an operator's laptop with profiles or SSO) the default chain runs as usual.
pub async fn sdk_config(settings: &SdkSettings) -> aws_config::SdkConfig {
    match from_environment(settings, |name| std::env::var(name).ok()) {
        Some(config) => config,
        None => sdk_loader(settings).load().await,
    }
}

/// The configuration the default chain would find in the environment, built without the chain.
fn from_environment(
    settings: &SdkSettings,
    var: impl Fn(&str) -> Option<String>,
) -> Option<aws_config::SdkConfig> {
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
        .http_client(http_client(settings))
        .timeout_config(timeouts(settings))
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
pub fn sdk_loader(settings: &SdkSettings) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client(settings))
        .timeout_config(timeouts(settings))
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

fn http_client(settings: &SdkSettings) -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let builder =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    if settings.native_roots {
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
/// bounds the rest, while an emulator can take seconds over a large partition.
fn timeouts(settings: &SdkSettings) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(settings.attempt_timeout)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
        let settings = SdkSettings::default();
        let config = from_environment(&settings, |n| env.get(n).map(|v| v.to_string()))
            .expect("complete environment");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:4566"));
        assert!(config.credentials_provider().is_some());
        // Without credentials in the environment the default chain decides.
        assert!(from_environment(&settings, |n| (n == "AWS_REGION")
            .then(|| "eu-west-1".to_owned()))
        .is_none());
    }

    #[test]
    fn the_attempt_timeout_is_the_configured_one() {
        let settings = SdkSettings {
            attempt_timeout: Duration::from_secs(90),
            native_roots: false,
        };
        assert_eq!(
            timeouts(&settings).operation_attempt_timeout(),
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn the_bundled_aws_roots_parse() {
        let pem = String::from_utf8(AWS_ROOTS.to_vec()).unwrap();
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        // What http_client() uses; should it fail, that client falls back to the system store.
        assert!(aws_roots_context().is_ok());
    }
}
