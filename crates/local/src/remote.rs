//! `make watch`: the runner's gateway, queue and stream mappings and checkpoint schedule, calling
//! the functions that `cargo lambda watch` runs, and rebuilds when their code changes, through its
//! invoke endpoint (`POST {base}/2015-03-31/functions/{name}/invocations`, the path of Lambda's
//! own `Invoke` API). Each function gets the payload its event source would send in AWS: the HTTP
//! API's payload-2.0 event, an `SqsEvent`, a stream batch in its tumbling window, or the
//! schedule's EventBridge event; and its answer is read the way that source reads it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_aws::Config;
use aws_lambda_events::event::sqs::SqsEvent;
use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::gateway::{self, Gateway};
use crate::poller::SqsHandler;
use crate::stream::{BoxError, StreamHandler};
use crate::{Mapped, Polling, Schedule};

/// Where `cargo lambda watch` takes invocations unless told otherwise.
pub const DEFAULT_INVOKE_URL: &str = "http://127.0.0.1:9000";

/// One function behind the invoke endpoint, by its binary's name.
pub struct Function {
    client: reqwest::Client,
    url: String,
    name: &'static str,
}

impl Function {
    pub fn new(client: reqwest::Client, base: &str, name: &'static str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            client,
            url: format!("{base}/2015-03-31/functions/{name}/invocations"),
            name,
        }
    }

    /// Invokes the function synchronously and returns its answer. A function error (cargo lambda
    /// answers it with an error status or the `X-Amz-Function-Error` header, and the Lambda
    /// runtime's `errorType` body) is an error here, as it is to an event source mapping.
    pub async fn invoke(&self, payload: &Value) -> Result<Value, BoxError> {
        let response = self
            .client
            .post(&self.url)
            .json(payload)
            .send()
            .await
            .map_err(|error| {
                format!(
                    "could not invoke {} at {}: {error}; is `cargo lambda watch` running?",
                    self.name, self.url
                )
            })?;
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let bytes = response.bytes().await?;
        let answer: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        if !status.is_success() || function_error || answer.get("errorType").is_some() {
            return Err(format!("{} failed ({status}): {answer}", self.name).into());
        }
        Ok(answer)
    }
}

/// The item identifiers of a batch answer's `batchItemFailures`.
fn batch_item_failures(answer: &Value) -> Vec<String> {
    answer
        .get("batchItemFailures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|failure| failure.get("itemIdentifier").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

impl StreamHandler for Function {
    fn handle(
        &self,
        payload: Value,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, BoxError>> + Send + '_>> {
        Box::pin(async move { Ok(batch_item_failures(&self.invoke(&payload).await?)) })
    }
}

impl SqsHandler for Function {
    fn handle(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + '_>> {
        Box::pin(async move {
            let every_message = || {
                event
                    .records
                    .iter()
                    .filter_map(|record| record.message_id.clone())
                    .collect::<Vec<_>>()
            };
            let payload = match serde_json::to_value(&event) {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::warn!(%error, "could not encode the SQS event");
                    return every_message();
                }
            };
            let budget = deadline.saturating_duration_since(Instant::now());
            // A failed or timed-out invocation deletes nothing: the batch comes back after the
            // visibility timeout, as in AWS.
            match tokio::time::timeout(budget, self.invoke(&payload)).await {
                Ok(Ok(answer)) => batch_item_failures(&answer),
                Ok(Err(error)) => {
                    tracing::warn!(error = %error, "the drain failed; the batch will be redelivered");
                    every_message()
                }
                Err(_) => {
                    tracing::warn!(
                        ?budget,
                        "the drain timed out; the batch will be redelivered"
                    );
                    every_message()
                }
            }
        })
    }
}

impl Schedule for Function {
    fn tick(&self) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + '_>> {
        Box::pin(async move {
            self.invoke(&scheduled_event(chrono::Utc::now())).await?;
            Ok(())
        })
    }
}

/// The event an EventBridge schedule rule sends.
fn scheduled_event(now: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "version": "0",
        "id": audit_domain::EventId::generate().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/audit-log-checkpoints"],
        "detail": {},
    })
}

/// The HTTP API in front of the write and read functions.
pub struct Api {
    pub write: Function,
    pub read: Function,
}

impl Gateway for Api {
    fn respond<'a>(
        &'a self,
        event: Value,
        path: &'a str,
    ) -> Pin<Box<dyn Future<Output = hyper::Response<Full<Bytes>>> + Send + 'a>> {
        Box::pin(async move {
            let function = if gateway::is_write_route(path) {
                &self.write
            } else {
                &self.read
            };
            match function.invoke(&event).await {
                Ok(answer) => http_response(&answer),
                Err(error) => {
                    tracing::warn!(error = %error, "invocation failed");
                    // What API Gateway answers when the integration fails.
                    plain(500, &json!({"message": "Internal Server Error"}))
                }
            }
        })
    }
}

fn plain(status: u16, body: &Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a static response is valid")
}

/// The HTTP answer API Gateway makes of a payload-2.0 function answer: `statusCode`, `headers`
/// (and `multiValueHeaders`), `cookies` as `Set-Cookie`, and `body`, base64 when
/// `isBase64Encoded`. An answer without `statusCode` is a 200 whose body is the answer's JSON.
pub fn http_response(answer: &Value) -> hyper::Response<Full<Bytes>> {
    let Some(status) = answer.get("statusCode").and_then(Value::as_u64) else {
        return plain(200, answer);
    };
    let mut builder = hyper::Response::builder().status(status as u16);
    let headers = answer.get("headers").and_then(Value::as_object);
    for (name, value) in headers.into_iter().flatten() {
        if let Some(value) = value.as_str() {
            builder = builder.header(name.as_str(), value);
        }
    }
    let multi = answer.get("multiValueHeaders").and_then(Value::as_object);
    for (name, values) in multi.into_iter().flatten() {
        if headers.is_some_and(|h| h.contains_key(name)) {
            continue;
        }
        for value in values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            builder = builder.header(name.as_str(), value);
        }
    }
    let cookies = answer.get("cookies").and_then(Value::as_array);
    for cookie in cookies.into_iter().flatten().filter_map(Value::as_str) {
        builder = builder.header("set-cookie", cookie);
    }
    let text = answer.get("body").and_then(Value::as_str).unwrap_or("");
    let body = if answer.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => Bytes::from(bytes),
            Err(_) => {
                return plain(
                    502,
                    &json!({"message": "Bad base64 body from the function"}),
                )
            }
        }
    } else {
        Bytes::from(text.to_owned())
    };
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| plain(502, &json!({"message": "Bad answer from the function"})))
}

/// The service as `make watch` runs it.
pub struct Watching {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Watching {
    /// Stops the gateway and the mappings, and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Creates the resources, then serves the API on `listen` and runs every mapping and the schedule
/// against the functions behind `invoke_url`.
pub async fn start(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    listen: SocketAddr,
    visibility_timeout: Option<u32>,
    invoke_url: &str,
) -> anyhow::Result<Watching> {
    let created = crate::bootstrap(config, sdk, visibility_timeout).await?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()?;
    let function = |name| Function::new(client.clone(), invoke_url, name);
    let (stop, stopped) = watch::channel(false);
    let listener = crate::listen(listen).await?;
    let addr = listener.local_addr()?;
    let api = Arc::new(Api {
        write: function("write"),
        read: function("read"),
    });
    let http = tokio::spawn(crate::accept(listener, api, stopped.clone()));
    let seal = Arc::new(function("seal"));
    let mapped = Mapped {
        drain: Arc::new(function("drain")),
        count: Arc::new(function("count")),
        seal: Some((seal.clone(), seal)),
    };
    let polling = Polling {
        poll_wait: Duration::from_secs(2),
        stream_deliveries: 1,
        seal_interval: config.seal_interval,
    };
    let mut tasks = crate::spawn_mappings(sdk, &created, mapped, polling, stopped).await?;
    tasks.push(http);
    Ok(Watching { addr, stop, tasks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(response: hyper::Response<Full<Bytes>>) -> Bytes {
        response.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn a_function_answer_becomes_the_http_answer() {
        let answer = json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-request-id": "r1"},
            "multiValueHeaders": {"x-request-id": ["r1"], "vary": ["a", "b"]},
            "cookies": ["a=1", "b=2"],
            "body": "{\"id\":\"x\"}",
            "isBase64Encoded": false,
        });
        let response = http_response(&answer);
        assert_eq!(response.status(), 201);
        let headers = response.headers();
        assert_eq!(headers.get_all("x-request-id").iter().count(), 1);
        assert_eq!(headers.get_all("vary").iter().count(), 2);
        assert_eq!(headers.get_all("set-cookie").iter().count(), 2);
        assert_eq!(body(response).await, "{\"id\":\"x\"}");
    }

    #[tokio::test]
    async fn base64_bodies_are_decoded_and_bad_ones_refused() {
        let ok =
            http_response(&json!({"statusCode": 200, "body": "/wA=", "isBase64Encoded": true}));
        assert_eq!(body(ok).await.as_ref(), &[0xff, 0x00]);
        let bad = http_response(&json!({"statusCode": 200, "body": "!!", "isBase64Encoded": true}));
        assert_eq!(bad.status(), 502);
        let bare = http_response(&json!({"hello": 1}));
        assert_eq!(bare.status(), 200);
        assert_eq!(body(bare).await, "{\"hello\":1}");
    }

    #[test]
    fn batch_failures_are_read_by_identifier() {
        let answer =
            json!({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]});
        assert_eq!(batch_item_failures(&answer), vec!["m1", "m2"]);
        assert!(batch_item_failures(&Value::Null).is_empty());
    }
}
