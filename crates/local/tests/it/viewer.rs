//! The viewer through the runner: the gateway sends `/` and `/viewer/*` to the read function, which
//! serves them without a key (auth required here), with the configured `frame-ancestors`, and 304s.

use crate::common::{spawn_app_with, test_config};
use audit_aws::FrameAncestors;
use audit_domain::auth::AuthMode;

#[tokio::test]
async fn the_runner_serves_the_viewer_without_a_key_and_the_api_with_one() {
    let mut config = test_config();
    config.auth = AuthMode::Required;
    config.viewer_frame_ancestors = FrameAncestors::parse("'self' https://admin.example").unwrap();
    let app = spawn_app_with(config).await;

    let page = app.http.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("frame-ancestors 'self' https://admin.example;"),
        "{policy}"
    );
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert!(page.text().await.unwrap().contains("viewer/app.js"));

    let script = app
        .http
        .get(format!("{}/viewer/app.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = script.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .http
        .get(format!("{}/viewer/app.js", app.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());

    let missing = app
        .http
        .get(format!("{}/viewer/x.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let api = app
        .http
        .get(format!("{}/api/read", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    app.running.stop().await;
}
