use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::testing::MemoryKeys;
use crate::time;

fn now() -> DateTime<Utc> {
    time::parse_rfc3339("2026-03-01T12:00:00Z").unwrap()
}

fn tenant(name: &str) -> Tenant {
    Tenant::parse(name).unwrap()
}

#[test]
fn a_generated_key_round_trips_through_its_text() {
    let key = ApiKey::generate();
    let text = key.expose();
    assert!(text.starts_with("alk_"), "{text}");
    assert_eq!(text.len(), 4 + 16 + 1 + 43);
    assert_eq!(ApiKey::parse(&text), Some(key));
}

#[test]
fn generated_keys_differ() {
    assert_ne!(ApiKey::generate().expose(), ApiKey::generate().expose());
    assert_ne!(KeyId::generate(), KeyId::generate());
}

#[test]
fn malformed_keys_are_refused() {
    let good = ApiKey::generate().expose();
    let cases = [
        String::new(),
        "alk_".to_owned(),
        good.replacen("alk_", "alx_", 1),
        good[..good.len() - 1].to_owned(),
        format!("{good}A"),
        good.replacen('_', "-", 2),
        // `I` is not in the id alphabet.
        format!("alk_IIIIIIIIIIIIIIII{}", &good[20..]),
        format!("Bearer {good}"),
        // 43 base64url characters with non-canonical trailing bits: decodes only leniently.
        format!("{}B", &good[..good.len() - 1]),
    ];
    for case in cases {
        if case == good {
            continue;
        }
        assert_eq!(ApiKey::parse(&case), None, "{case:?}");
    }
}

#[test]
fn secrets_with_underscores_parse() {
    // The secret alphabet contains `_`; the id is found by length, not by splitting.
    let text = format!("alk_0123456789abcdef_{}", "_".repeat(42) + "w");
    let key = ApiKey::parse(&text).expect("a valid key");
    assert_eq!(key.id().as_str(), "0123456789abcdef");
    assert_eq!(key.expose(), text);
}

#[test]
fn debug_never_shows_the_secret() {
    let key = ApiKey::generate();
    let secret = &key.expose()[21..];
    let shown = format!("{key:?} {:?}", key.hash());
    assert!(!shown.contains(secret), "{shown}");
    assert!(!shown.contains(&key.hash().to_hex()), "{shown}");
    assert!(shown.contains(key.id().as_str()));
}

#[test]
fn the_hash_is_sha256_of_the_secret_bytes_in_hex() {
    let key = ApiKey::parse(&format!("alk_0123456789abcdef_{}", "A".repeat(43))).unwrap();
    // SHA-256 of 32 zero bytes.
    assert_eq!(
        key.hash().to_hex(),
        "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
    );
    assert_eq!(SecretHash::from_hex(&key.hash().to_hex()), Some(key.hash()));
    assert_eq!(SecretHash::from_hex("abc"), None);
    assert_eq!(SecretHash::from_hex(&"g".repeat(64)), None);
}

#[test]
fn constant_time_compare_is_plain_equality() {
    let cases: &[(&[u8], &[u8], bool)] = &[
        (b"", b"", true),
        (b"abc", b"abc", true),
        (b"abc", b"abd", false),
        (b"abc", b"xbc", false),
        (b"abc", b"ab", false),
        (&[0xff; 32], &[0xff; 32], true),
        (&[0xff; 32], &[0x7f; 32], false),
    ];
    for (a, b, equal) in cases {
        assert_eq!(constant_time_eq(a, b), *equal, "{a:?} {b:?}");
    }
}

#[test]
fn scopes_parse_strictly() {
    assert_eq!(
        Scopes::parse(["logs:read", "logs:write"]),
        Some(Scopes::all())
    );
    let read = Scopes::parse(["logs:read"]).unwrap();
    assert!(read.contains(Scope::Read) && !read.contains(Scope::Write));
    assert_eq!(Scopes::parse(["logs:admin"]), None);
    assert_eq!(Scopes::parse(["logs:read", "read"]), None);
    assert!(Scopes::parse([]).unwrap().is_empty());
    assert_eq!(Scopes::all().to_strings(), ["logs:read", "logs:write"]);
}

fn setup(mode: AuthMode, scopes: Scopes) -> (Arc<MemoryKeys>, Verifier<Arc<MemoryKeys>>, ApiKey) {
    let store = Arc::new(MemoryKeys::default());
    let (key, record) = issue(tenant("acme"), scopes, None, now());
    store.insert(record);
    let verifier = Verifier::new(store.clone(), AuthPolicy::new(mode));
    (store, verifier, key)
}

fn is_401(result: Result<Principal, AuthError>) -> bool {
    matches!(result, Err(AuthError::Unauthenticated { .. }))
}

#[tokio::test]
async fn a_valid_key_acts_for_its_tenant() {
    let (_, verifier, key) = setup(AuthMode::Required, Scopes::all());
    let principal = verifier
        .authorize(Some(&key.expose()), Scope::Write)
        .await
        .unwrap();
    assert_eq!(principal.tenant, tenant("acme"));
    assert_eq!(principal.scopes, Scopes::all());
}

#[tokio::test]
async fn missing_malformed_unknown_and_wrong_secret_are_401() {
    let (_, verifier, key) = setup(AuthMode::Required, Scopes::all());
    let wrong_secret = format!("alk_{}_{}", key.id(), "A".repeat(43));
    let unknown = ApiKey::generate().expose();
    for presented in [
        None,
        Some("nonsense"),
        Some(&*unknown),
        Some(&*wrong_secret),
    ] {
        assert!(
            is_401(verifier.authorize(presented, Scope::Read).await),
            "{presented:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_scope_is_403() {
    let (_, verifier, key) = setup(AuthMode::Required, Scopes::parse(["logs:read"]).unwrap());
    assert!(verifier
        .authorize(Some(&key.expose()), Scope::Read)
        .await
        .is_ok());
    let refused = verifier.authorize(Some(&key.expose()), Scope::Write).await;
    assert!(matches!(
        refused,
        Err(AuthError::Forbidden {
            scope: Scope::Write,
            ..
        })
    ));
}

#[tokio::test]
async fn expiry_is_honoured_to_the_instant() {
    let store = Arc::new(MemoryKeys::default());
    let expires = now() + chrono::Duration::minutes(5);
    let (key, record) = issue(tenant("acme"), Scopes::all(), Some(expires), now());
    store.insert(record);
    let verifier = Verifier::new(store, AuthPolicy::new(AuthMode::Required));
    let text = key.expose();
    let at = |t| verifier.authorize_at(Some(&text), Scope::Read, t);
    assert!(at(expires - chrono::Duration::microseconds(1))
        .await
        .is_ok());
    assert!(is_401(at(expires).await));
}

#[tokio::test]
async fn found_keys_are_cached_for_the_ttl_and_revocation_lands_after_it() {
    let (store, _, key) = setup(AuthMode::Required, Scopes::all());
    let policy = AuthPolicy::new(AuthMode::Required).with_ttl(Duration::from_millis(200));
    let verifier = Verifier::new(store.clone(), policy);
    let text = key.expose();
    assert!(verifier.authorize(Some(&text), Scope::Read).await.is_ok());
    assert!(verifier.authorize(Some(&text), Scope::Read).await.is_ok());
    assert_eq!(
        store.lookups(),
        1,
        "the second request is served from the cache"
    );

    store.revoke(key.id(), now());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(is_401(verifier.authorize(Some(&text), Scope::Read).await));
    assert_eq!(store.lookups(), 2);
}

#[tokio::test]
async fn unknown_ids_are_remembered_briefly() {
    let store = Arc::new(MemoryKeys::default());
    let verifier = Verifier::new(store.clone(), AuthPolicy::new(AuthMode::Required));
    let (key, record) = issue(tenant("acme"), Scopes::all(), None, now());
    let text = key.expose();
    assert!(is_401(verifier.authorize(Some(&text), Scope::Read).await));
    // Created just after the miss: the cached miss still answers, without another lookup.
    store.insert(record);
    assert!(is_401(verifier.authorize(Some(&text), Scope::Read).await));
    assert_eq!(store.lookups(), 1);
    assert_eq!(
        AuthPolicy::new(AuthMode::Required).miss_ttl,
        Duration::from_secs(5)
    );
    assert_eq!(
        AuthPolicy::new(AuthMode::Required).ttl,
        Duration::from_secs(30)
    );
}

#[tokio::test]
async fn optional_mode_serves_keyless_requests_as_the_anonymous_tenant_only() {
    let (_, verifier, key) = setup(AuthMode::Optional, Scopes::parse(["logs:read"]).unwrap());
    let anonymous = verifier.authorize(None, Scope::Write).await.unwrap();
    assert_eq!(anonymous.tenant, Tenant::default());
    assert_eq!(anonymous.scopes, Scopes::all());
    // A presented key is verified exactly as in required mode.
    assert!(is_401(
        verifier.authorize(Some("alk_bad"), Scope::Read).await
    ));
    assert!(matches!(
        verifier.authorize(Some(&key.expose()), Scope::Write).await,
        Err(AuthError::Forbidden { .. })
    ));
}

#[test]
fn auth_modes_parse() {
    assert_eq!(AuthMode::parse("required"), Some(AuthMode::Required));
    assert_eq!(AuthMode::parse("optional"), Some(AuthMode::Optional));
    assert_eq!(AuthMode::parse("off"), None);
    assert_eq!(AuthMode::default(), AuthMode::Required);
}
