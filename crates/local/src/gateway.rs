//! The API Gateway half of the runner: turns an HTTP request into the HTTP API (payload 2.0) event
//! that API Gateway would send, has `lambda_http` parse it exactly as in Lambda, and calls the
//! function's handler.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use audit_api::ApiError;
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use lambda_http::{Body, Response};
use serde_json::{json, Map, Value};

use crate::Handler;

/// Lambda refuses synchronous payloads over 6 MB; API Gateway answers 413 before that.
const MAX_GATEWAY_BODY: usize = 6 * 1024 * 1024;

/// Where each path goes, as the template's routes say: the write routes to the write function,
/// everything else (the read routes and `$default`) to the read function.
pub struct Routes {
    pub write: Arc<dyn Handler>,
    pub read: Arc<dyn Handler>,
}

impl Routes {
    /// The function API Gateway would route `path` to.
    pub fn pick(&self, path: &str) -> &Arc<dyn Handler> {
        if is_write_route(path) {
            &self.write
        } else {
            &self.read
        }
    }
}

/// What the gateway hands a request to: the payload-2.0 event of the request to `path`, in; the
/// HTTP answer, out.
pub trait Gateway: Send + Sync + 'static {
    fn respond<'a>(
        &'a self,
        event: Value,
        path: &'a str,
    ) -> Pin<Box<dyn Future<Output = hyper::Response<Full<Bytes>>> + Send + 'a>>;
}

/// In process: `lambda_http` parses the event exactly as in Lambda, and the function's handler runs.
impl Gateway for Routes {
    fn respond<'a>(
        &'a self,
        event: Value,
        path: &'a str,
    ) -> Pin<Box<dyn Future<Output = hyper::Response<Full<Bytes>>> + Send + 'a>> {
        Box::pin(async move {
            let response = match lambda_http::request::from_str(&event.to_string()) {
                Ok(request) => self.pick(path).call(request).await,
                Err(error) => ApiError::internal(error).into_response(),
            };
            from_lambda(response)
        })
    }
}

/// Whether the template routes `path` to the write function (else to the read function).
pub fn is_write_route(path: &str) -> bool {
    path == "/api/write" || path.starts_with("/api/write/")
}

pub async fn serve<G: Gateway>(
    gateway: Arc<G>,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_GATEWAY_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(from_lambda(ApiError::PayloadTooLarge.into_response())),
    };
    let event = gateway_event(&parts, &body, peer);
    Ok(gateway.respond(event, parts.uri.path()).await)
}

/// The payload-2.0 event: headers lower-cased and repeated ones joined by commas, query parameters
/// likewise, cookies split out, and a body that is base64 unless it is UTF-8 text.
pub fn gateway_event(parts: &http::request::Parts, body: &[u8], peer: SocketAddr) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(value.split("; ").map(|c| json!(c)));
            continue;
        }
        let entry = headers
            .entry(name.as_str().to_owned())
            .or_insert_with(|| json!(""));
        let joined = match entry.as_str() {
            Some("") | None => value,
            Some(previous) => format!("{previous},{value}"),
        };
        *entry = json!(joined);
    }
    let raw_query = parts.uri.query().unwrap_or("");
    let mut query: Map<String, Value> = Map::new();
    for (key, value) in form_pairs(raw_query) {
        let entry = query.entry(key).or_insert_with(|| json!(null));
        *entry = match entry.as_str() {
            Some(previous) => json!(format!("{previous},{value}")),
            None => json!(value),
        };
    }
    let (body, is_base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (json!(text), false),
        Err(_) => (
            json!(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    let now = chrono::Utc::now();
    let request_id = audit_domain::EventId::generate().to_string();
    let host = headers
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or("127.0.0.1")
        .to_owned();
    let user_agent = headers.get("user-agent").cloned().unwrap_or(json!(""));
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    event
}

/// `application/x-www-form-urlencoded` pairs, decoded as API Gateway decodes query strings.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(high), Some(low)) => {
                        out.push(high << 4 | low);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn from_lambda(response: Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_like_api_gateway() {
        assert_eq!(
            form_pairs("event_name=new%20customer&sort=-created_at&x=a+b&flag"),
            vec![
                ("event_name".into(), "new customer".into()),
                ("sort".into(), "-created_at".into()),
                ("x".into(), "a b".into()),
                ("flag".into(), "".into()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
    }

    #[test]
    fn binary_bodies_are_base64() {
        let (parts, _) = http::Request::post("/api/write")
            .body(())
            .unwrap()
            .into_parts();
        let event = gateway_event(&parts, &[0xff, 0x00], "127.0.0.1:9".parse().unwrap());
        assert_eq!(event["body"], "/wA=");
        assert_eq!(event["isBase64Encoded"], true);
    }

    #[test]
    fn the_event_parses_into_a_lambda_request() {
        let request = http::Request::post("/api/write?a=1&a=2")
            .header("host", "127.0.0.1:3050")
            .header("x-multi", "1")
            .header("x-multi", "2")
            .body(())
            .unwrap();
        let (parts, _) = request.into_parts();
        let event = gateway_event(&parts, b"{}", "127.0.0.1:9".parse().unwrap());
        assert_eq!(event["queryStringParameters"]["a"], "1,2");
        assert_eq!(event["headers"]["x-multi"], "1,2");
        let parsed = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(parsed.method(), "POST");
        assert_eq!(parsed.uri().path(), "/api/write");
        assert!(matches!(parsed.body(), Body::Text(t) if t == "{}"));
    }
}
