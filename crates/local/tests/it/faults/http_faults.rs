//! An HTTP proxy in front of the emulator that answers a share of DynamoDB `BatchWriteItem` calls
//! with the errors DynamoDB gives under load (throttling, a 500) instead of forwarding them, and
//! records the message bodies SQS accepted, so that a case can deliver them again.
//!
//! A call is one SDK invocation (the `amz-sdk-invocation-id` header, the same on each of the SDK's
//! attempts). Of the calls picked to fail, half fail only on their first attempt, which the SDK's
//! own retry covers, and half on every attempt, so that the SDK gives up and the drain's retries
//! must cover them: both layers are exercised on every run, not by luck.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const BATCH_WRITE: &str = "DynamoDB_20120810.BatchWriteItem";
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"injected"}"#;
const INTERNAL: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}"#;

#[derive(Debug, Default)]
pub struct ProxyStats {
    pub batch_writes: AtomicUsize,
    pub throttled: AtomicUsize,
    pub internal_errors: AtomicUsize,
    /// Faults injected into the SDK's last attempt (`amz-sdk-request: attempt=3; max=3`): these
    /// reach the drain as errors, and only its own retries can cover them.
    pub last_attempt_faults: AtomicUsize,
}

/// What the proxy does with one SDK invocation's attempts.
#[derive(Clone, Copy)]
enum Plan {
    Forward,
    FailFirstAttempt,
    FailEveryAttempt,
}

/// The SDK's `attempt=N; max=M` header.
fn attempt(headers: &hyper::HeaderMap) -> (u32, u32) {
    let value = headers
        .get("amz-sdk-request")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let field = |name: &str| {
        value
            .split(';')
            .find_map(|part| part.trim().strip_prefix(name)?.parse::<u32>().ok())
    };
    (field("attempt=").unwrap_or(1), field("max=").unwrap_or(1))
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    fault_rate: f64,
    rng: Mutex<StdRng>,
    plans: Mutex<HashMap<String, Plan>>,
    stats: Arc<ProxyStats>,
    sent_bodies: Mutex<Vec<String>>,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    pub stats: Arc<ProxyStats>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Forwards to `upstream` (`http://host:port`), failing `fault_rate` of the batch-write calls;
    /// each failed attempt is answered with throttling or a 500 at even odds.
    pub async fn start(upstream: &str, fault_rate: f64, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(ProxyStats::default());
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            fault_rate,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            plans: Mutex::new(HashMap::new()),
            stats: stats.clone(),
            sent_bodies: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        FaultProxy {
            addr,
            stats,
            shared,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every message body SQS accepted through this proxy, in the order it answered.
    pub fn sent_bodies(&self) -> Vec<String> {
        self.shared.sent_bodies.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(shared.clone(), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Whether to fail this attempt, and if so whether with throttling (else a 500).
fn fault(shared: &Shared, headers: &hyper::HeaderMap) -> Option<bool> {
    let (attempt, max) = attempt(headers);
    let invocation = headers
        .get("amz-sdk-invocation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut rng = shared.rng.lock().unwrap();
    let mut roll = || match rng.gen_bool(shared.fault_rate) {
        false => Plan::Forward,
        true if rng.gen_bool(0.5) => Plan::FailFirstAttempt,
        true => Plan::FailEveryAttempt,
    };
    let plan = match invocation {
        Some(id) => *shared.plans.lock().unwrap().entry(id).or_insert_with(roll),
        None => roll(),
    };
    let fail = match plan {
        Plan::Forward => false,
        Plan::FailFirstAttempt => attempt == 1,
        Plan::FailEveryAttempt => true,
    };
    if !fail {
        return None;
    }
    if attempt >= max {
        shared
            .stats
            .last_attempt_faults
            .fetch_add(1, Ordering::SeqCst);
    }
    Some(rng.gen_bool(0.5))
}

fn answer(status: u16, body: &'static str) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", "injected")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn handle(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();

    if target == BATCH_WRITE {
        shared.stats.batch_writes.fetch_add(1, Ordering::SeqCst);
        if let Some(throttle) = fault(&shared, &parts.headers) {
            let (kind, status, body) = if throttle {
                (&shared.stats.throttled, 400, THROTTLED)
            } else {
                (&shared.stats.internal_errors, 500, INTERNAL)
            };
            kind.fetch_add(1, Ordering::SeqCst);
            return Ok(answer(status, body));
        }
    }

    let mut headers = parts.headers.clone();
    for name in ["host", "content-length", "transfer-encoding", "connection"] {
        headers.remove(name);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let forwarded = shared
        .client
        .request(parts.method.clone(), format!("{}{path}", shared.upstream))
        .headers(headers)
        .body(body.clone())
        .send()
        .await;
    let Ok(response) = forwarded else {
        return Ok(answer(502, r#"{"message":"upstream unreachable"}"#));
    };
    let status = response.status();
    let mut headers = response.headers().clone();
    let reply = response.bytes().await.unwrap_or_default();
    if status.is_success() && target.starts_with("AmazonSQS.SendMessage") {
        record_sent(&shared, &target, &body, &reply);
    }
    for name in ["content-length", "transfer-encoding", "connection"] {
        headers.remove(name);
    }
    let mut out = hyper::Response::new(Full::new(reply));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// Keeps the bodies of a `SendMessage`, or of the entries a `SendMessageBatch` reports successful.
fn record_sent(shared: &Shared, target: &str, request: &[u8], reply: &[u8]) {
    let request: Value = serde_json::from_slice(request).unwrap_or_default();
    let reply: Value = serde_json::from_slice(reply).unwrap_or_default();
    let mut bodies = shared.sent_bodies.lock().unwrap();
    if target == "AmazonSQS.SendMessage" {
        if let Some(body) = request["MessageBody"].as_str() {
            bodies.push(body.to_owned());
        }
        return;
    }
    let ok: Vec<&str> = reply["Successful"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["Id"].as_str())
        .collect();
    for entry in request["Entries"].as_array().into_iter().flatten() {
        if entry["Id"].as_str().is_some_and(|id| ok.contains(&id)) {
            if let Some(body) = entry["MessageBody"].as_str() {
                bodies.push(body.to_owned());
            }
        }
    }
}
