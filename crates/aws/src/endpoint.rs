//! Clients whose endpoints are resolved by a few lines instead of the SDK's rules engine. Building a
//! client with the default resolver parses the SDK's partition tables, about 4 ms per client, which
//! was most of a function's init time; a Lambda needs only `https://<service>.<region>.amazonaws.com`,
//! or the configured `AWS_ENDPOINT_URL`. FIPS, dual-stack and account-based endpoints are not offered.

use aws_sdk_dynamodb::config::endpoint::EndpointFuture;
use aws_smithy_types::endpoint::Endpoint;

/// The regional endpoint of `service`, or `configured` (the endpoint URL) when one is set.
fn resolve(
    service: &str,
    configured: Option<&str>,
    region: Option<&str>,
) -> EndpointFuture<'static> {
    let url = match (configured, region) {
        (Some(url), _) => url.to_owned(),
        (None, Some(region)) => regional_url(service, region),
        (None, None) => return EndpointFuture::ready(Err("no AWS region is configured".into())),
    };
    EndpointFuture::ready(Ok(Endpoint::builder().url(url).build()))
}

fn regional_url(service: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{service}.{region}.{suffix}")
}

#[derive(Debug, Clone, Copy)]
struct Regional;

impl aws_sdk_dynamodb::config::endpoint::ResolveEndpoint for Regional {
    fn resolve_endpoint<'a>(
        &'a self,
        params: &'a aws_sdk_dynamodb::config::endpoint::Params,
    ) -> EndpointFuture<'a> {
        resolve("dynamodb", params.endpoint(), params.region())
    }
}

impl aws_sdk_sqs::config::endpoint::ResolveEndpoint for Regional {
    fn resolve_endpoint<'a>(
        &'a self,
        params: &'a aws_sdk_sqs::config::endpoint::Params,
    ) -> EndpointFuture<'a> {
        resolve("sqs", params.endpoint(), params.region())
    }
}

impl aws_sdk_kms::config::endpoint::ResolveEndpoint for Regional {
    fn resolve_endpoint<'a>(
        &'a self,
        params: &'a aws_sdk_kms::config::endpoint::Params,
    ) -> EndpointFuture<'a> {
        resolve("kms", params.endpoint(), params.region())
    }
}

pub fn kms_client(sdk: &aws_config::SdkConfig) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::config::Builder::from(sdk)
        .endpoint_resolver(Regional)
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// S3 keeps the SDK's own resolver: it is the resolver that puts the bucket into the URL. Only the
/// seal function and the CLI build this client. Path-style addressing (`<endpoint>/<bucket>/<key>`)
/// is served by AWS and emulators alike.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn dynamodb_client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .endpoint_resolver(Regional)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

pub fn sqs_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(sdk)
        .endpoint_resolver(Regional)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_endpoints_follow_the_partition() {
        assert_eq!(
            regional_url("dynamodb", "eu-west-1"),
            "https://dynamodb.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            regional_url("sqs", "cn-north-1"),
            "https://sqs.cn-north-1.amazonaws.com.cn"
        );
    }

    #[tokio::test]
    async fn a_configured_endpoint_wins() {
        let endpoint = resolve("sqs", Some("http://127.0.0.1:4566"), Some("us-east-1"))
            .await
            .unwrap();
        assert_eq!(endpoint.url(), "http://127.0.0.1:4566");
        assert!(resolve("sqs", None, None).await.is_err());
    }
}
