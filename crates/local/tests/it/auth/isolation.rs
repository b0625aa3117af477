//! Who may do what: every route by key and scope, and no event, count or cursor crossing tenants.

use super::*;

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
