//! Serving the viewer (`audit-viewer`'s embedded page and assets) from the read function, so that a
//! deployment shows it at the API's own origin. The files are public: the page asks for a key and
//! sends it only to the API, so they are answered before any key check.

use audit_api::ApiError;
use audit_viewer::FrameAncestors;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// The file at `path` (`/` or under `/viewer/`): `304` when the client's copy is current, `405`
/// for another method than `GET`, `404` in the API's shape for a name the viewer does not have.
pub(crate) fn serve(
    request: &Request,
    path: &str,
    frame_ancestors: &FrameAncestors,
) -> Result<Response<Body>, ApiError> {
    let asset = audit_viewer::asset(path).ok_or(ApiError::NotFound)?;
    if request.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allow: "GET",
        });
    }
    let if_none_match = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let fresh = asset.is_fresh(if_none_match);
    let status = if fresh {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut response = Response::builder().status(status);
    for (name, value) in asset.headers(frame_ancestors) {
        response = response.header(name, value);
    }
    // The assets are UTF-8 text, which API Gateway passes on without base64's extra third.
    let body = match (fresh, std::str::from_utf8(asset.body)) {
        (true, _) => Body::Empty,
        (false, Ok(text)) => Body::Text(text.to_owned()),
        (false, Err(_)) => Body::Binary(asset.body.to_vec()),
    };
    response.body(body).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use crate::ReadHandler;
    use audit_domain::auth::{AuthMode, AuthPolicy, Verifier};
    use audit_domain::cursor::CursorKey;
    use audit_domain::read::ReadContext;
    use audit_domain::testing::{MemoryKeys, MemoryReader, RecordingQueue};
    use audit_domain::Tenant;
    use audit_viewer::FrameAncestors;
    use lambda_http::http::{HeaderMap, Method};
    use lambda_http::{Body, Request};
    use serde_json::{json, Value};

    /// Keys are required: the viewer must be served without one all the same.
    fn handler() -> ReadHandler<MemoryReader, MemoryKeys, RecordingQueue> {
        ReadHandler::new(
            MemoryReader::new(&[], 2),
            RecordingQueue::default(),
            ReadContext {
                tenant: Tenant::default(),
                shards: 2,
                cursor_key: CursorKey::new(b"unit".to_vec()),
            },
            Verifier::new(MemoryKeys::default(), AuthPolicy::new(AuthMode::Required)),
        )
    }

    fn get(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method(Method::GET)
            .uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
    }

    fn text(body: &Body) -> &str {
        match body {
            Body::Text(text) => text,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_page_is_served_without_a_key_under_a_strict_policy() {
        let response = handler().handle(get("/", &[])).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(header(headers, "content-type"), "text/html; charset=utf-8");
        let policy = header(headers, "content-security-policy");
        assert!(
            policy.starts_with("default-src 'self'; script-src 'self';"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(header(headers, "x-content-type-options"), "nosniff");
        assert_eq!(header(headers, "x-frame-options"), "DENY");
        let page = text(response.body());
        assert!(page.contains("viewer/app.js"), "the page loads its module");
        assert!(!page.contains("<script>"), "no inline script");
    }

    #[tokio::test]
    async fn every_asset_has_its_type_and_the_security_headers() {
        let h = handler();
        for (path, content_type) in [
            ("/viewer/app.js", "text/javascript; charset=utf-8"),
            ("/viewer/export.js", "text/javascript; charset=utf-8"),
            ("/viewer/style.css", "text/css; charset=utf-8"),
            ("/viewer/icon.svg", "image/svg+xml"),
        ] {
            let response = h.handle(get(path, &[])).await;
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(header(response.headers(), "content-type"), content_type);
            assert_eq!(
                header(response.headers(), "x-content-type-options"),
                "nosniff"
            );
            assert!(header(response.headers(), "content-security-policy")
                .contains("default-src 'self'"));
            let expected = audit_viewer::asset(path).unwrap().body;
            assert_eq!(text(response.body()).as_bytes(), expected, "{path}");
        }
    }

    #[tokio::test]
    async fn a_current_copy_gets_304_with_no_body_and_a_stale_one_the_file() {
        let h = handler();
        let first = h.handle(get("/viewer/app.js", &[])).await;
        let etag = header(first.headers(), "etag").to_owned();
        let again = h
            .handle(get("/viewer/app.js", &[("if-none-match", &etag)]))
            .await;
        assert_eq!(again.status(), 304);
        assert!(matches!(again.body(), Body::Empty));
        assert_eq!(header(again.headers(), "etag"), etag);
        assert_eq!(header(again.headers(), "x-content-type-options"), "nosniff");
        let other = h
            .handle(get("/viewer/app.js", &[("if-none-match", "\"0000\"")]))
            .await;
        assert_eq!(other.status(), 200);
        // Another file's tag does not make this one fresh.
        let index = h.handle(get("/", &[("if-none-match", &etag)])).await;
        assert_eq!(index.status(), 200);
    }

    #[tokio::test]
    async fn an_unknown_asset_is_the_apis_404_and_another_method_405() {
        let h = handler();
        for path in [
            "/viewer/nope.js",
            "/viewer/",
            "/viewer/app.js/x",
            "/viewer/../api/read",
        ] {
            let response = h.handle(get(path, &[])).await;
            assert_eq!(response.status(), 404, "{path}");
            let body: Value = serde_json::from_str(text(response.body())).unwrap();
            assert_eq!(
                body,
                json!({"error": "the requested resource could not be found"}),
                "{path}"
            );
        }
        let post = lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(Body::Empty)
            .unwrap();
        let response = h.handle(post).await;
        assert_eq!(response.status(), 405);
        assert_eq!(header(response.headers(), "allow"), "GET");
    }

    #[tokio::test]
    async fn configured_frame_ancestors_reach_the_policy() {
        let ancestors = FrameAncestors::parse("https://admin.example.com").unwrap();
        let h = handler().with_frame_ancestors(ancestors);
        let response = h.handle(get("/", &[])).await;
        let policy = header(response.headers(), "content-security-policy");
        assert!(
            policy.contains("frame-ancestors https://admin.example.com;"),
            "{policy}"
        );
        assert!(response.headers().get("x-frame-options").is_none());
    }

    #[tokio::test]
    async fn the_api_still_needs_a_key() {
        let response = handler().handle(get("/api/read", &[])).await;
        assert_eq!(response.status(), 401);
    }
}
