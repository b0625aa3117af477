//! Reading the API key a request presents (`Authorization: Bearer <key>` or `x-api-key: <key>`) and
//! turning the verifier's answer into the principal or an [`ApiError`]. Logs name the key only by
//! its public id, never the key, its secret or its hash.

use audit_domain::auth::{AuthError, Principal, Scope, Verifier};
use audit_domain::ports::KeyStore;
use lambda_http::http::header;
use lambda_http::Request;

use crate::ApiError;

const API_KEY_HEADER: &str = "x-api-key";

/// The key text the request carries; `Ok(None)` when it carries none. A header that is present but
/// unusable (another scheme, not ASCII, empty) counts as a presented, malformed key: 401 even in
/// optional mode, so that a client with a broken header never silently writes as the anonymous tenant.
pub fn presented_key(request: &Request) -> Result<Option<&str>, ApiError> {
    let headers = request.headers();
    let bearer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let text = value.to_str().map_err(|_| refused("unreadable header"))?;
            let (scheme, token) = text
                .trim()
                .split_once(' ')
                .ok_or_else(|| refused("no scheme"))?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(refused("not a bearer token"));
            }
            Some(token.trim())
        }
    };
    let api_key = match headers.get(API_KEY_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| refused("unreadable header"))?
                .trim(),
        ),
    };
    match (bearer, api_key) {
        (Some(a), Some(b)) if a != b => Err(refused("two different keys")),
        (Some(key), _) | (None, Some(key)) => Ok(Some(key)),
        (None, None) => Ok(None),
    }
}

/// Who the request acts as, if it may use `scope`.
pub async fn authorize<K: KeyStore>(
    verifier: &Verifier<K>,
    request: &Request,
    scope: Scope,
) -> Result<Principal, ApiError> {
    let presented = presented_key(request)?;
    match verifier.authorize(presented, scope).await {
        Ok(principal) => Ok(principal),
        Err(AuthError::Unauthenticated { key_id, reason }) => {
            tracing::info!(
                key_id = key_id.as_ref().map_or("-", |id| id.as_str()),
                reason,
                "API key refused"
            );
            Err(ApiError::Unauthenticated)
        }
        Err(AuthError::Forbidden { key_id, scope }) => {
            tracing::info!(
                key_id = key_id.as_str(),
                scope = scope.as_str(),
                "API key lacks scope"
            );
            Err(ApiError::Forbidden(scope))
        }
        Err(error @ AuthError::Unavailable(_)) => Err(ApiError::internal(error)),
    }
}

fn refused(reason: &'static str) -> ApiError {
    tracing::info!(key_id = "-", reason, "API key refused");
    ApiError::Unauthenticated
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn both_headers_are_accepted() {
        let r = request(&[("authorization", "Bearer alk_x")]);
        assert_eq!(presented_key(&r).unwrap(), Some("alk_x"));
        let r = request(&[("Authorization", "bearer  alk_x ")]);
        assert_eq!(presented_key(&r).unwrap(), Some("alk_x"));
        let r = request(&[("x-api-key", "alk_y")]);
        assert_eq!(presented_key(&r).unwrap(), Some("alk_y"));
        let r = request(&[("x-api-key", "alk_y"), ("authorization", "Bearer alk_y")]);
        assert_eq!(presented_key(&r).unwrap(), Some("alk_y"));
        assert_eq!(presented_key(&request(&[])).unwrap(), None);
    }

    #[test]
    fn unusable_headers_are_401_not_absent() {
        for headers in [
            &[("authorization", "Basic dXNlcjpwYXNz")][..],
            &[("authorization", "alk_x")],
            &[("x-api-key", "alk_a"), ("authorization", "Bearer alk_b")],
        ] {
            assert!(
                matches!(
                    presented_key(&request(headers)),
                    Err(ApiError::Unauthenticated)
                ),
                "{headers:?}"
            );
        }
    }
}
