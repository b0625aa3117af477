//! What the HTTP functions share: the API's error type with its one mapping onto status codes and
//! the seed's JSON shapes, `From` conversions from the domain's errors, JSON answers and body
//! limits, and key checks. Logging and metrics are in `audit-telemetry`.

pub mod auth;
pub mod strict_json;

use audit_domain::auth::Scope;
use audit_domain::event::InputError;
use audit_domain::ports::{QueueError, StoreError};
use audit_domain::read::ReadError;
use audit_domain::FieldErrors;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Bodies above this are refused with 413 (API Gateway would pass up to 10 MB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Said to the client for every internal failure; the details go to the log only.
pub const INTERNAL_MESSAGE: &str =
    "the server encountered a problem and could not process your request";

/// Every way a request can fail, each with the status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or a header is malformed (not JSON, empty, unknown field, bad header).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: no API key, or one that is malformed, unknown, expired or revoked. One message for all,
    /// so that a caller cannot tell an unknown key from a revoked one.
    #[error("invalid or missing API key")]
    Unauthenticated,
    /// 403: a valid key that lacks the scope the route needs.
    #[error("this API key lacks the {0} scope")]
    Forbidden(Scope),
    /// 404: no such route, or no such event.
    #[error("not found")]
    NotFound,
    /// 409: the event is stored, but no signed checkpoint covers it yet (its proof would have
    /// nothing to prove against). It is answered until the next checkpoint, seconds to a minute.
    #[error("not sealed yet")]
    NotSealed,
    /// 405: the route exists, the method does not. `allow` lists the methods it has.
    #[error("method {method} not allowed")]
    MethodNotAllowed { method: String, allow: &'static str },
    /// 413: the body is over [`MAX_BODY_BYTES`].
    #[error("payload too large")]
    PayloadTooLarge,
    /// 422: well-formed input with invalid fields, keyed by field.
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    /// 500: anything else. Logged with its whole source chain; the client sees a generic message.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::NotSealed => StatusCode::CONFLICT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The one place an error becomes an HTTP answer.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let message: Value = match &self {
            Self::BadRequest(message) => json!(message),
            Self::Unauthenticated | Self::Forbidden(_) => json!(self.to_string()),
            Self::NotFound => json!("the requested resource could not be found"),
            Self::NotSealed => json!(
                "the event is stored but not yet in a signed checkpoint; retry after the next one"
            ),
            Self::MethodNotAllowed { method, .. } => json!(format!(
                "the {method} method is not supported for this resource"
            )),
            Self::PayloadTooLarge => json!(format!(
                "body must not be larger than {MAX_BODY_BYTES} bytes"
            )),
            Self::Invalid(errors) => Value::Object(
                errors
                    .iter()
                    .map(|(k, v)| (k.to_owned(), json!(v)))
                    .collect::<Map<_, _>>(),
            ),
            Self::Internal(source) => {
                tracing::error!(error = %audit_telemetry::error_chain(source.as_ref()), "request failed");
                json!(INTERNAL_MESSAGE)
            }
        };
        let mut response = json_response(status, &json!({ "error": message }));
        if let Self::MethodNotAllowed { allow, .. } = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

// What each domain error means for a client, beside `status()`, so that handlers use `?`.

/// Invalid fields are a 422 keyed by field.
impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Invalid(errors)
    }
}

/// A store failure is the generic 500, whatever it was; the chain goes to the log.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(error)
    }
}

/// A queue failure is the generic 500: nothing was enqueued, so the client may retry.
impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        Self::internal(error)
    }
}

/// A query too broad to answer is a 422 that says how to narrow it; a store failure a 500.
impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::TooBroad(errors) => Self::Invalid(errors),
            ReadError::Store(error) => Self::internal(error),
        }
    }
}

/// A body that is not a well-formed event is a 400; one with invalid fields a 422.
impl From<InputError> for ApiError {
    fn from(error: InputError) -> Self {
        match error {
            InputError::Malformed(message) => Self::BadRequest(message),
            InputError::Invalid(errors) => Self::Invalid(errors),
        }
    }
}

/// A JSON answer with the given status.
pub fn json_response(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_string(value).expect("answers always serialise");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .expect("a static response is valid")
}

/// The request body as bytes, refusing what is over the limit.
pub fn body_bytes(request: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(bytes)
}

/// Parses a JSON body, with the seed's 400 messages for empty and malformed bodies. An object that
/// names a key twice is malformed too (see [`strict_json`]).
pub fn json_body(request: &Request) -> Result<Value, ApiError> {
    let bytes = body_bytes(request)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("body must not be empty".to_owned()));
    }
    strict_json::from_slice(bytes).map_err(|e| {
        let at = format!("(at line {} column {})", e.line(), e.column());
        ApiError::BadRequest(match e.classify() {
            serde_json::error::Category::Eof => "body contains badly-formed JSON".to_owned(),
            serde_json::error::Category::Data => {
                // The message is `duplicate key "name" at line 1 column 9`; keep the key part.
                let text = e.to_string();
                let what = text.split(" at line ").next().unwrap_or(&text);
                format!("body contains a {what} {at}")
            }
            _ => format!("body contains badly-formed JSON {at}"),
        })
    })
}

/// The request path without a trailing slash, as the routers match it.
pub fn route_path(request: &Request) -> &str {
    let path = request.uri().path();
    match path.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn field_errors_answer_422_keyed_by_field() {
        let mut errors = FieldErrors::new();
        errors.add("sort", "invalid sort value");
        let response = ApiError::from(errors).into_response();
        assert_eq!(response.status(), 422);
        assert_eq!(
            body_of(&response),
            json!({"error": {"sort": "invalid sort value"}})
        );
    }

    #[test]
    fn internal_errors_never_leak_details() {
        let source = std::io::Error::other("secret table arn:aws:dynamodb:...");
        let response = ApiError::internal(source).into_response();
        assert_eq!(response.status(), 500);
        assert_eq!(body_of(&response), json!({"error": INTERNAL_MESSAGE}));
    }

    #[test]
    fn method_not_allowed_names_the_method_and_allowed_ones() {
        let response = ApiError::MethodNotAllowed {
            method: "GET".into(),
            allow: "POST",
        }
        .into_response();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[header::ALLOW], "POST");
        assert_eq!(
            body_of(&response)["error"],
            "the GET method is not supported for this resource"
        );
    }

    #[test]
    fn auth_failures_answer_401_and_403_with_fixed_messages() {
        let response = ApiError::Unauthenticated.into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(
            body_of(&response),
            json!({"error": "invalid or missing API key"})
        );
        let response = ApiError::Forbidden(Scope::Write).into_response();
        assert_eq!(response.status(), 403);
        assert_eq!(
            body_of(&response),
            json!({"error": "this API key lacks the logs:write scope"})
        );
    }

    #[test]
    fn bodies_are_limited_and_must_not_be_empty() {
        let request = |body: Body| Request::new(body);
        assert!(
            matches!(json_body(&request(Body::Empty)), Err(ApiError::BadRequest(m)) if m == "body must not be empty")
        );
        assert!(matches!(
            json_body(&request(Body::Text("{".into()))),
            Err(ApiError::BadRequest(_))
        ));
        let big = Body::Binary(vec![b' '; MAX_BODY_BYTES + 1]);
        assert!(matches!(
            json_body(&request(big)),
            Err(ApiError::PayloadTooLarge)
        ));
        assert_eq!(
            json_body(&request(Body::Text("{}".into()))).unwrap(),
            json!({})
        );
    }
}
