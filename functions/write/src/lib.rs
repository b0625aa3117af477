//! The write function: validates events, stamps their ids and times, and enqueues them. It never
//! touches the events in DynamoDB, so a write costs one SQS request however busy the table is; it
//! reads only an API key record, and only when its cache misses.

use audit_api::auth::authorize;
use audit_api::{json_body, json_response, route_path, ApiError};
use audit_domain::auth::{Scope, Verifier};
use audit_domain::id::IdempotencyKey;
use audit_domain::ports::{EventQueue, KeyStore};
use audit_domain::{time, Event, EventId, NewEvent};
use audit_telemetry::metrics::{self, Unit};
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// The most events one `POST /api/write/batch` may carry.
pub const MAX_BATCH: usize = 100;

const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The handler, generic over the queue and the key store so that tests and the local runner use
/// the very same code. Events are stored under the tenant of the key that wrote them.
pub struct WriteHandler<Q, K> {
    queue: Q,
    verifier: Verifier<K>,
    retention_days: u32,
}

impl<Q: EventQueue, K: KeyStore> WriteHandler<Q, K> {
    pub fn new(queue: Q, verifier: Verifier<K>, retention_days: u32) -> Self {
        Self {
            queue,
            verifier,
            retention_days,
        }
    }

    /// Answers one API Gateway request; every failure becomes the API's JSON error shape.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.route(&request)
            .await
            .unwrap_or_else(ApiError::into_response)
    }

    async fn route(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let batch = match route_path(request) {
            "/api/write" => false,
            "/api/write/batch" => true,
            _ => return Err(ApiError::NotFound),
        };
        if request.method() != Method::POST {
            return Err(ApiError::MethodNotAllowed {
                method: request.method().to_string(),
                allow: "POST",
            });
        }
        let principal = authorize(&self.verifier, request, Scope::Write).await?;
        let tenant = principal.tenant;
        let key = idempotency_key(request)?;
        let body = json_body(request)?;
        let now = time::now();
        let inputs = if batch {
            NewEvent::batch_from_json(&body, now, MAX_BATCH)
        } else {
            NewEvent::from_json(&body, now).map(|e| vec![e])
        }?;

        let events: Vec<Event> = inputs
            .into_iter()
            .enumerate()
            .map(|(index, input)| {
                let id = match &key {
                    Some(key) => EventId::derive(&tenant, key, batch.then_some(index)),
                    None => EventId::generate(),
                };
                input.stamp(id, tenant.clone(), now, self.retention_days)
            })
            .collect();

        self.queue.enqueue(&events).await?;
        tracing::info!(
            tenant = tenant.as_str(),
            accepted = events.len(),
            idempotent = key.is_some(),
            "events accepted"
        );
        metrics::emit(
            "write",
            &[("EventsAccepted", events.len() as f64, Unit::Count)],
        );

        let views: Vec<_> = events.iter().map(Event::view).collect();
        let (body, location) = if batch {
            (json!({ "logs": views }), None)
        } else {
            (
                json!({ "log": views[0] }),
                Some(format!("/api/logs/{}", events[0].id)),
            )
        };
        let mut response = json_response(StatusCode::CREATED, &body);
        if let Some(location) = location.and_then(|l| l.parse().ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    }
}

fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = request.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::BadRequest(
            "Idempotency-Key header must contain only visible ASCII characters".into(),
        )
    })?;
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|reason| ApiError::BadRequest(format!("Idempotency-Key header {reason}")))
}

#[cfg(test)]
mod tests;
