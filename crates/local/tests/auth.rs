//! API keys, scopes and tenant isolation, end to end through the local runner against the emulator:
//! every route's 401/403/2xx, no event crossing tenants in reads, counts or GET by id, revocation
//! and expiry, cursors replayed or forged across tenants, and no secret in the logs.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use audit_aws::config::AuthMode;
use audit_aws::DynamoKeys;
use audit_domain::auth::{self, ApiKey, Scopes};
use audit_domain::{time, Tenant};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{spawn_app, spawn_app_with, test_config, TestApp};
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

#[tokio::test]
async fn every_route_answers_401_403_or_2xx_by_key_and_scope() {
    let app = spawn_required(Duration::from_secs(30)).await;
    let rw = key(&app, "acme", &["logs:read", "logs:write"])
        .await
        .expose();
    let read_only = key(&app, "acme", &["logs:read"]).await.expose();
    let write_only = key(&app, "acme", &["logs:write"]).await.expose();
    let unknown = ApiKey::generate().expose();
    let wrong_secret = format!("{}{}", &rw[..21], "A".repeat(43));

    let id = {
        let (status, body) = call(
            &app,
            "POST",
            "/api/write",
            Cred::Bearer(&rw),
            Some(event("e", 1)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body["log"]["id"].as_str().unwrap().to_owned()
    };
    let log_path = format!("/api/logs/{id}");
    let routes: [(&str, &str, Option<Value>, bool); 4] = [
        ("POST", "/api/write", Some(event("e", 1)), true),
        (
            "POST",
            "/api/write/batch",
            Some(json!([event("e", 1)])),
            true,
        ),
        ("GET", "/api/read", None, false),
        ("GET", &log_path, None, false),
    ];
    app.wait_for_events(1, Duration::from_secs(5)).await;
    for (method, path, body, writes) in routes {
        let at = |cred| call(&app, method, path, cred, body.clone());
        for refused in [
            Cred::None,
            Cred::Bearer("not-a-key"),
            Cred::Bearer(&unknown),
            Cred::Bearer(&wrong_secret),
            Cred::Header(&wrong_secret),
        ] {
            assert_eq!(
                at(refused).await,
                (401, json!({"error": UNAUTHENTICATED})),
                "{method} {path}"
            );
        }
        let (lacking, missing_scope) = if writes {
            (&read_only, "logs:write")
        } else {
            (&write_only, "logs:read")
        };
        for cred in [Cred::Bearer(lacking), Cred::Header(lacking)] {
            let expected =
                json!({"error": format!("this API key lacks the {missing_scope} scope")});
            assert_eq!(at(cred).await, (403, expected), "{method} {path}");
        }
        let granted = if writes { &write_only } else { &read_only };
        for cred in [
            Cred::Bearer(granted),
            Cred::Header(granted),
            Cred::Bearer(&rw),
        ] {
            let (status, body) = at(cred).await;
            assert_eq!(
                status,
                if writes { 201 } else { 200 },
                "{method} {path}: {body}"
            );
        }
    }
    // Routing answers before the key check, as API Gateway does.
    assert_eq!(
        status_of(&app, "GET", "/api/nope", Cred::None, None).await,
        404
    );
    assert_eq!(
        status_of(&app, "GET", "/api/write", Cred::None, None).await,
        405
    );
}

#[tokio::test]
async fn no_event_of_one_tenant_appears_in_the_others_reads_counts_or_gets() {
    let app = spawn_required(Duration::from_secs(30)).await;
    let (a, b) = two_tenants(&app).await;

    // The same names, customers and idempotency key in both tenants.
    let mut ids_of = std::collections::HashMap::<&str, Vec<String>>::new();
    for (tenant, key, n) in [("a", &a, 3), ("b", &b, 2)] {
        for i in 0..n {
            let (status, body) = call(
                &app,
                "POST",
                "/api/write",
                Cred::Bearer(key),
                Some(event("shared.name", 7 + i % 2)),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            ids_of
                .entry(tenant)
                .or_default()
                .push(body["log"]["id"].as_str().unwrap().to_owned());
        }
        let response = app
            .http
            .post(format!("{}/api/write", app.url))
            .bearer_auth(key)
            .header("idempotency-key", "same-key")
            .body(event("shared.name", 7).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        ids_of
            .entry(tenant)
            .or_default()
            .push(body["log"]["id"].as_str().unwrap().to_owned());
    }
    let (a_ids, b_ids) = (ids_of["a"].clone(), ids_of["b"].clone());
    assert_ne!(
        a_ids.last(),
        b_ids.last(),
        "an idempotency key derives per tenant"
    );

    let stored = app.wait_for_events(7, Duration::from_secs(10)).await;
    assert_eq!(stored.len(), 7);
    for record in &stored {
        let expected = if a_ids.contains(&record.id) {
            "tenant-a"
        } else {
            "tenant-b"
        };
        assert_eq!(record.tenant, expected, "stored under the key's tenant");
    }

    for (key, own, other) in [(&a, &a_ids, &b_ids), (&b, &b_ids, &a_ids)] {
        for query in [
            "",
            "?event_name=shared",
            "?customer_id=7",
            "?sort=event_name",
            "?customer_id=8&event_name=shared",
        ] {
            let (status, body) = call(
                &app,
                "GET",
                &format!("/api/read{query}"),
                Cred::Bearer(key),
                None,
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let got = ids(&body);
            assert!(got.iter().all(|id| own.contains(id)), "{query}: {got:?}");
            assert_eq!(
                body["metadata"]["total_records"].as_u64().unwrap() as usize,
                got.len(),
                "{query}"
            );
        }
        let (_, all) = call(&app, "GET", "/api/read", Cred::Bearer(key), None).await;
        assert_eq!(all["metadata"]["total_records"], own.len());
        for id in own {
            assert_eq!(
                status_of(
                    &app,
                    "GET",
                    &format!("/api/logs/{id}"),
                    Cred::Bearer(key),
                    None
                )
                .await,
                200
            );
        }
        for id in other {
            let (status, body) = call(
                &app,
                "GET",
                &format!("/api/logs/{id}"),
                Cred::Bearer(key),
                None,
            )
            .await;
            assert_eq!(
                (status, body),
                (
                    404,
                    json!({"error": "the requested resource could not be found"})
                )
            );
        }
    }
}

#[tokio::test]
async fn revocation_takes_effect_within_the_cache_lifetime() {
    let cache = Duration::from_secs(1);
    let app = spawn_required(cache).await;
    let key = key(&app, "acme", &["logs:read", "logs:write"]).await;
    let text = key.expose();
    assert_eq!(read_status(&app, Cred::Bearer(&text)).await, 200);
    assert_eq!(write_status(&app, Cred::Bearer(&text)).await, 201);

    let revoked = keys(&app)
        .revoke(key.id(), time::now())
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    let listed = keys(&app)
        .list(&Tenant::parse("acme").unwrap())
        .await
        .unwrap();
    assert!(
        listed[0].revoked_at.is_some(),
        "the listing shows the revocation"
    );

    let revoked_at = Instant::now();
    tokio::time::sleep(cache + Duration::from_millis(100)).await;
    assert_eq!(
        call(&app, "GET", "/api/read", Cred::Bearer(&text), None).await,
        (401, json!({"error": UNAUTHENTICATED}))
    );
    assert_eq!(write_status(&app, Cred::Bearer(&text)).await, 401);
    assert!(revoked_at.elapsed() < cache * 2);
    // Revoking an unknown key finds nothing.
    assert!(keys(&app)
        .revoke(ApiKey::generate().id(), time::now())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn expiry_is_honoured_even_for_a_cached_key() {
    // The default 30 s cache: expiry is checked on every request, not only on a cache miss.
    let app = spawn_required(Duration::from_secs(30)).await;
    let expires = time::now() + chrono::Duration::seconds(2);
    let soon = key_expiring(&app, "acme", &["logs:read"], Some(expires))
        .await
        .expose();
    let past = key_expiring(
        &app,
        "acme",
        &["logs:read"],
        Some(time::now() - chrono::Duration::seconds(1)),
    )
    .await
    .expose();
    assert_eq!(read_status(&app, Cred::Bearer(&past)).await, 401);
    assert_eq!(read_status(&app, Cred::Bearer(&soon)).await, 200);
    let wait = (expires - time::now()).to_std().unwrap_or_default() + Duration::from_millis(100);
    tokio::time::sleep(wait).await;
    assert_eq!(
        call(&app, "GET", "/api/read", Cred::Bearer(&soon), None).await,
        (401, json!({"error": UNAUTHENTICATED}))
    );
}

#[tokio::test]
async fn cursors_replayed_or_forged_across_tenants_are_refused() {
    let app = spawn_required(Duration::from_secs(30)).await;
    let (a, b) = two_tenants(&app).await;
    for key in [&a, &a, &a, &b] {
        assert_eq!(write_status(&app, Cred::Bearer(key)).await, 201);
    }
    app.wait_for_events(4, Duration::from_secs(5)).await;
    let (_, first) = call(&app, "GET", "/api/read?page_size=1", Cred::Bearer(&a), None).await;
    let cursor = first["metadata"]["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let invalid = (422, json!({"error": {"cursor": "invalid cursor"}}));

    // The owner follows it.
    let (status, page) = call(
        &app,
        "GET",
        &format!("/api/read?cursor={cursor}"),
        Cred::Bearer(&a),
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");

    // Replayed as is by another tenant.
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/read?cursor={cursor}"),
            Cred::Bearer(&b),
            None
        )
        .await,
        invalid
    );

    // Forged: the payload rewritten to name tenant B, the signature kept.
    let (body, tag) = cursor.split_once('.').unwrap();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
    assert_eq!(payload["t"], "tenant-a");
    payload["t"] = json!("tenant-b");
    let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(payload.to_string()));
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/read?cursor={forged}"),
            Cred::Bearer(&b),
            None
        )
        .await,
        invalid
    );
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/read?cursor={forged}"),
            Cred::Bearer(&a),
            None
        )
        .await,
        invalid
    );
}

/// Everything every test in this binary logs, from the first call on.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Buffer(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");
        buffer
    })
    .clone()
}

#[derive(Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_key_secret_or_hash_is_ever_logged() {
    let logs = captured_logs();
    let app = spawn_required(Duration::from_secs(30)).await;
    let key = key(&app, "acme", &["logs:read"]).await;
    let text = key.expose();
    let wrong = format!("{}{}", &text[..21], "A".repeat(43));
    assert_eq!(read_status(&app, Cred::Bearer(&text)).await, 200);
    assert_eq!(read_status(&app, Cred::Header(&wrong)).await, 401);
    assert_eq!(write_status(&app, Cred::Bearer(&text)).await, 403);
    keys(&app).revoke(key.id(), time::now()).await.unwrap();
    keys(&app)
        .list(&Tenant::parse("acme").unwrap())
        .await
        .unwrap();

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains(key.id().as_str()),
        "refusals name the key id:\n{logs}"
    );
    for secret in [
        text.as_str(),
        &text[21..],
        &key.hash().to_hex(),
        &wrong[21..],
    ] {
        assert!(!logs.contains(secret), "a secret was logged");
    }
}

#[tokio::test]
async fn optional_mode_serves_keyless_requests_as_default_and_still_verifies_keys() {
    let app = spawn_app().await;
    let (code, body) = call(&app, "POST", "/api/write", Cred::None, Some(event("e", 1))).await;
    assert_eq!(code, 201, "{body}");
    let stored = app.wait_for_events(1, Duration::from_secs(5)).await;
    assert_eq!(stored[0].tenant, "default");
    let (_, read) = call(&app, "GET", "/api/read", Cred::None, None).await;
    assert_eq!(read["metadata"]["total_records"], 1);

    assert_eq!(read_status(&app, Cred::Bearer("alk_bad")).await, 401);
    assert_eq!(
        read_status(&app, Cred::Bearer(&ApiKey::generate().expose())).await,
        401
    );
    // A valid key acts for its own tenant, which sees nothing of `default`.
    let other = key(&app, "other", &["logs:read"]).await.expose();
    let (status, read) = call(&app, "GET", "/api/read", Cred::Bearer(&other), None).await;
    assert_eq!(
        (status, read["metadata"]["total_records"].clone()),
        (200, json!(0))
    );
    assert_eq!(write_status(&app, Cred::Bearer(&other)).await, 403);
}
