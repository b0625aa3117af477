//! The read function: `GET /api/read` (filtered, sorted, paged events), `GET /api/logs/{id}` and
//! `GET /api/stats` (counts over time, from the counters), the sealed log's checkpoints and
//! proofs ([`proofs`]), the viewer's page and assets (`GET /`, `GET /viewer/*`), which are public
//! and answered before any key check, and `GET /api/export` (a read's events as NDJSON or CSV,
//! each answer audited through the queue).
//! It routes on method and path itself, so that the same handler serves API Gateway, the local
//! runner and tests. Each request is metered and its cost logged as structured fields.

pub mod proofs;

use std::sync::Arc;
use std::time::Instant;

use audit_api::auth::authorize;
use audit_api::{json_response, route_path, ApiError};
use audit_aws::Config;
use audit_domain::auth::{Scope, Verifier};
use audit_domain::cursor::CursorKey;
use audit_domain::ports::{EventLookup, EventQueue, KeyStore, Metered, ReadCost, ReadStore};
use audit_domain::query::{ReadQuery, StatsQuery};
use audit_domain::read::{self, ReadContext};
use audit_domain::{time, EventId, FieldErrors, Tenant};
use audit_telemetry::metrics::{self, Unit};
use audit_viewer::FrameAncestors;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

pub use export::{ExportLimits, CSV_HEADER, EXPORTED_EVENT};

const READ_PATH: &str = "/api/read";
const EXPORT_PATH: &str = "/api/export";
const STATS_PATH: &str = "/api/stats";
const LOG_PREFIX: &str = "/api/logs/";
const PROOF_SUFFIX: &str = "/proof";
const CHECKPOINT_PATH: &str = "/api/checkpoint";
const CONSISTENCY_PATH: &str = "/api/checkpoint/consistency";

/// The export caps a deployment's configuration describes.
pub fn export_limits(config: &Config) -> ExportLimits {
    ExportLimits {
        max_events: config.export_max_events,
        ..ExportLimits::DEFAULT
    }
}

/// The read context a deployment's configuration describes. Its tenant is only the anonymous one:
/// each request reads as the tenant of its key.
pub fn context(config: &Config) -> ReadContext {
    ReadContext {
        tenant: config.tenant.clone(),
        shards: config.shards,
        cursor_key: CursorKey::new(config.cursor_key.expose().as_bytes()),
    }
}

/// The handler, generic over the read port, the key store and the queue (which records exports)
/// so that tests and the local runner use the very same code.
pub struct ReadHandler<R, K, Q> {
    store: R,
    queue: Q,
    context: ReadContext,
    verifier: Verifier<K>,
    /// The sealed log's routes; without them they answer 404.
    log: Option<Arc<dyn proofs::LogApi>>,
    frame_ancestors: FrameAncestors,
    export_limits: ExportLimits,
    retention_days: u32,
}

enum Route {
    Read,
    Export,
    Stats,
    Log(Option<EventId>),
    Proof(Option<EventId>),
    Checkpoint,
    Consistency,
}

impl<R: ReadStore, K: KeyStore, Q: EventQueue> ReadHandler<R, K, Q> {
    pub fn new(store: R, queue: Q, context: ReadContext, verifier: Verifier<K>) -> Self {
        Self {
            store,
            queue,
            context,
            verifier,
            log: None,
            frame_ancestors: FrameAncestors::none(),
            export_limits: ExportLimits::DEFAULT,
            retention_days: 0,
        }
    }

    /// Serves the sealed log's routes from `log`.
    pub fn with_log(mut self, log: Arc<dyn proofs::LogApi>) -> Self {
        self.log = Some(log);
        self
    }

    /// `AUDIT_RETENTION_DAYS`, for the events that record exports, as the write function stamps.
    pub fn with_retention_days(mut self, days: u32) -> Self {
        self.retention_days = days;
        self
    }

    /// How much one export answer holds (`AUDIT_EXPORT_MAX_EVENTS`); tests lower it to see `Link`
    /// with few events.
    pub fn with_export_limits(mut self, limits: ExportLimits) -> Self {
        self.export_limits = limits;
        self
    }

    /// The pages that may frame the viewer (`AUDIT_VIEWER_FRAME_ANCESTORS`); none by default.
    pub fn with_frame_ancestors(mut self, frame_ancestors: FrameAncestors) -> Self {
        self.frame_ancestors = frame_ancestors;
        self
    }

    /// Answers one API Gateway request; every failure becomes the API's JSON error shape.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.handle_metered(request).await.0
    }

    /// Answers and reports what the answer cost the store.
    pub async fn handle_metered(&self, request: Request) -> (Response<Body>, ReadCost) {
        let started = Instant::now();
        let store = Metered::new(&self.store);
        let mut tenant = None;
        let response = self
            .route(&store, &request, &mut tenant)
            .await
            .unwrap_or_else(ApiError::into_response);
        let cost = store.cost();
        let request_id = request.lambda_context_ref().map(|c| c.request_id.clone());
        tracing::info!(
            request_id = request_id.as_deref().unwrap_or("-"),
            tenant = tenant.as_ref().map_or("-", Tenant::as_str),
            method = %request.method(),
            path = request.uri().path(),
            status = response.status().as_u16(),
            requests = cost.requests,
            items_read = cost.items_read,
            count_requests = cost.count_requests,
            count_items_read = cost.count_items_read,
            round_trips = cost.round_trips,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "read served"
        );
        metrics::emit(
            "read",
            &[
                ("StoreRequests", cost.requests as f64, Unit::Count),
                ("ItemsRead", cost.items_read as f64, Unit::Count),
                ("CountRequests", cost.count_requests as f64, Unit::Count),
                ("CountItemsRead", cost.count_items_read as f64, Unit::Count),
                ("RoundTrips", cost.round_trips as f64, Unit::Count),
            ],
        );
        (response, cost)
    }

    /// Routes, then authorises (so an unknown route is 404 and a wrong method 405 before any key
    /// check, as API Gateway answers), then serves within the key's tenant, noted in `tenant`.
    async fn route(
        &self,
        store: &Metered<'_, R>,
        request: &Request,
        tenant: &mut Option<Tenant>,
    ) -> Result<Response<Body>, ApiError> {
        let path = route_path(request);
        if path == audit_viewer::INDEX_PATH || path.starts_with(audit_viewer::ASSET_PREFIX) {
            return viewer::serve(request, path, &self.frame_ancestors);
        }
        let route = if path == READ_PATH {
            Route::Read
        } else if path == EXPORT_PATH {
            Route::Export
        } else if path == STATS_PATH {
            Route::Stats
        } else if path == CHECKPOINT_PATH {
            Route::Checkpoint
        } else if path == CONSISTENCY_PATH {
            Route::Consistency
        } else if let Some(id) = path
            .strip_prefix(LOG_PREFIX)
            .and_then(|rest| rest.strip_suffix(PROOF_SUFFIX))
            .filter(|id| !id.is_empty() && !id.contains('/'))
        {
            Route::Proof(EventId::parse(id))
        } else if let Some(id) = path
            .strip_prefix(LOG_PREFIX)
            .filter(|id| !id.is_empty() && !id.contains('/'))
        {
            Route::Log(EventId::parse(id))
        } else {
            return Err(ApiError::NotFound);
        };
        if request.method() != Method::GET {
            return Err(ApiError::MethodNotAllowed {
                method: request.method().to_string(),
                allow: "GET",
            });
        }
        let principal = authorize(&self.verifier, request, Scope::Read).await?;
        let context = ReadContext {
            tenant: principal.tenant.clone(),
            ..self.context.clone()
        };
        *tenant = Some(context.tenant.clone());
        match route {
            Route::Read => self.read(store, request, &context).await,
            Route::Export => {
                let params = request.query_string_parameters();
                let params = params.iter().map(|(k, v)| (k.to_owned(), v.to_owned()));
                export::export(
                    store,
                    &self.queue,
                    &context,
                    &principal,
                    params,
                    self.export_limits,
                    self.retention_days,
                )
                .await
            }
            Route::Stats => self.stats(store, request, &context).await,
            Route::Log(None) | Route::Proof(None) => Err(ApiError::NotFound),
            Route::Proof(Some(id)) => self.proof(store, request, &context.tenant, &id).await,
            Route::Checkpoint => self.checkpoint(request, &context.tenant).await,
            Route::Consistency => self.consistency(request, &context.tenant).await,
            Route::Log(Some(id)) => match store.get(&context.tenant, &id).await?.value {
                Some(event) => Ok(json_response(
                    StatusCode::OK,
                    &json!({ "log": event.view() }),
                )),
                None => Err(ApiError::NotFound),
            },
        }
    }

    fn log(&self) -> Result<&dyn proofs::LogApi, ApiError> {
        self.log.as_deref().ok_or(ApiError::NotFound)
    }

    async fn checkpoint(
        &self,
        request: &Request,
        tenant: &Tenant,
    ) -> Result<Response<Body>, ApiError> {
        let log = self.log()?;
        let params = request.query_string_parameters();
        let mut errors = FieldErrors::new();
        let size = size_param(params.first("size"), "size", &mut errors);
        errors.into_result(|| ())?;
        match log.checkpoint(tenant, size).await? {
            Some(answer) => Ok(json_response(StatusCode::OK, &answer)),
            None => Err(ApiError::NotFound),
        }
    }

    async fn consistency(
        &self,
        request: &Request,
        tenant: &Tenant,
    ) -> Result<Response<Body>, ApiError> {
        let log = self.log()?;
        let params = request.query_string_parameters();
        let mut errors = FieldErrors::new();
        let from = size_param(params.first("from"), "from", &mut errors);
        let to = size_param(params.first("to"), "to", &mut errors);
        for (field, value) in [("from", from), ("to", to)] {
            if value.is_none() && params.first(field).is_none() {
                errors.add(field, "is required");
            }
        }
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                errors.add("to", "must not be less than from");
            }
        }
        let (from, to) = errors.into_result(|| (from.unwrap_or(1), to.unwrap_or(1)))?;
        match log.consistency(tenant, from, to).await? {
            Some(Ok(answer)) => Ok(json_response(StatusCode::OK, &answer)),
            Some(Err(errors)) => Err(errors.into()),
            None => Err(ApiError::NotFound),
        }
    }

    async fn proof(
        &self,
        store: &Metered<'_, R>,
        request: &Request,
        tenant: &Tenant,
        id: &EventId,
    ) -> Result<Response<Body>, ApiError> {
        let log = self.log()?;
        let params = request.query_string_parameters();
        let mut errors = FieldErrors::new();
        let size = size_param(params.first("size"), "size", &mut errors);
        errors.into_result(|| ())?;
        match log.proof(tenant, id.as_str(), size).await? {
            proofs::ProofAnswer::Found(answer) => Ok(json_response(StatusCode::OK, &answer)),
            proofs::ProofAnswer::NoCheckpoint if size.is_some() => Err(ApiError::NotFound),
            // Never stored: 404. Stored, not yet in a checkpoint: 409, until the next one.
            _ => match store.get(tenant, id).await?.value {
                Some(_) => Err(ApiError::NotSealed),
                None => Err(ApiError::NotFound),
            },
        }
    }

    async fn read(
        &self,
        store: &Metered<'_, R>,
        request: &Request,
        context: &ReadContext,
    ) -> Result<Response<Body>, ApiError> {
        let params = request.query_string_parameters();
        // A cursor names its tenant; one made for another tenant is refused here as invalid.
        let query = ReadQuery::parse(params.iter(), &context.tenant, &context.cursor_key)?;
        let page = read::read(store, context, &query).await?;
        Ok(json_response(StatusCode::OK, &page.to_json()))
    }

    async fn stats(
        &self,
        store: &Metered<'_, R>,
        request: &Request,
        context: &ReadContext,
    ) -> Result<Response<Body>, ApiError> {
        let params = request.query_string_parameters();
        let query = StatsQuery::parse(params.iter())?;
        let series = read::series(
            store,
            &context.tenant,
            context.shards,
            &query.filters,
            query.interval,
            time::now().timestamp_micros(),
        )
        .await?;
        Ok(json_response(StatusCode::OK, &series.to_json()))
    }
}

/// A tree size parameter: a positive integer; `None` when absent or invalid (then noted).
fn size_param(value: Option<&str>, field: &str, errors: &mut FieldErrors) -> Option<u64> {
    let value = value?;
    match value.parse::<u64>() {
        Ok(n) if (1..=(1 << 53)).contains(&n) => Some(n),
        _ => {
            errors.add(field, "must be a positive integer");
            None
        }
    }
}

mod export;
mod viewer;

#[cfg(test)]
mod tests;
