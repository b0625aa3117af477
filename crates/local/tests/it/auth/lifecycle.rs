//! A key over time: revocation within the cache lifetime, expiry, and keyless requests in optional mode.

use super::*;

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

    // The bound under test is this wait: one cache lifetime (plus a margin) after the revocation.
    tokio::time::sleep(cache + Duration::from_millis(100)).await;
    assert_eq!(
        call(&app, "GET", "/api/read", Cred::Bearer(&text), None).await,
        (401, json!({"error": UNAUTHENTICATED}))
    );
    assert_eq!(write_status(&app, Cred::Bearer(&text)).await, 401);
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
