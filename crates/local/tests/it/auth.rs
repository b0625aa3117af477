//! API keys, scopes and tenant isolation, end to end through the local runner against the emulator:
//! every route's 401/403/2xx, no event crossing tenants in reads, counts or GET by id, revocation
//! and expiry, cursors replayed or forged across tenants, and no secret in the logs.

// The cases, by what they prove.

mod isolation;
mod lifecycle;
mod secrets;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::common::{spawn_app, spawn_app_with, test_config, TestApp};
use audit_aws::config::AuthMode;
use audit_aws::DynamoKeys;
use audit_domain::auth::{self, ApiKey, Scopes};
use audit_domain::{time, Tenant};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

const UNAUTHENTICATED: &str = "invalid or missing API key";

async fn spawn_required(cache: Duration) -> TestApp {
    let mut config = test_config();
    config.auth = AuthMode::Required;
    config.key_cache_ttl = cache;
    spawn_app_with(config).await
}

fn keys(app: &TestApp) -> DynamoKeys {
    DynamoKeys::new(app.dynamo.clone(), &app.running.table)
}

/// Creates a key as the CLI does and returns it whole.
async fn key(app: &TestApp, tenant: &str, scopes: &[&str]) -> ApiKey {
    key_expiring(app, tenant, scopes, None).await
}

async fn key_expiring(
    app: &TestApp,
    tenant: &str,
    scopes: &[&str],
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> ApiKey {
    let scopes = Scopes::parse(scopes.iter().copied()).unwrap();
    let (key, record) = auth::issue(
        Tenant::parse(tenant).unwrap(),
        scopes,
        expires_at,
        time::now(),
    );
    keys(app).create(&record).await.unwrap();
    key
}

/// How a request carries its key.
#[derive(Clone, Copy)]
enum Cred<'a> {
    None,
    Bearer(&'a str),
    Header(&'a str),
}

/// The status of `call`, for the many checks that need only that.
async fn status_of(
    app: &TestApp,
    method: &str,
    path: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> u16 {
    call(app, method, path, cred, body).await.0
}

/// Keys with both scopes for `tenant-a` and `tenant-b`.
async fn two_tenants(app: &TestApp) -> (String, String) {
    let rw = ["logs:read", "logs:write"];
    (
        key(app, "tenant-a", &rw).await.expose(),
        key(app, "tenant-b", &rw).await.expose(),
    )
}

/// The status of reading page 1 with `cred`.
async fn read_status(app: &TestApp, cred: Cred<'_>) -> u16 {
    status_of(app, "GET", "/api/read", cred, None).await
}

/// The status of writing one small event with `cred`.
async fn write_status(app: &TestApp, cred: Cred<'_>) -> u16 {
    status_of(app, "POST", "/api/write", cred, Some(event("e", 1))).await
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method.parse().unwrap(), format!("{}{path}", app.url));
    request = match cred {
        Cred::None => request,
        Cred::Bearer(key) => request.header("authorization", format!("Bearer {key}")),
        Cred::Header(key) => request.header("x-api-key", key),
    };
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn event(name: &str, customer: u64) -> Value {
    json!({"event_name": name, "description": "d", "customer_id": customer})
}

fn ids(body: &Value) -> Vec<String> {
    body["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("no logs in {body}"))
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}
