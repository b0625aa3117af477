//! Keeps `openapi.yaml` and the served routes in step. The spec's paths must be the template's API
//! routes; every operation the spec lists must be served (its example request gets the spec's 2xx,
//! not the router's 404 or 405); every other method on a known path must answer 405 with an `Allow`
//! header naming exactly the spec's methods; a malformed API key must get the spec's 401 (the
//! viewer's public files, `security: []`, are served whatever the key); and paths next to the known
//! ones must answer 404.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::common::{spawn_app, TestApp};
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

const SPEC: &str = include_str!("../../../../openapi.yaml");
const TEMPLATE: &str = include_str!("../../../../infra/template.yaml");
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"];
const ROUTE_NOT_FOUND: &str = "the requested resource could not be found";
/// A well-formed id that no event has.
const UNKNOWN_ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
/// A file the viewer has, for `/viewer/{asset}`.
const ASSET: &str = "app.js";

fn spec() -> Yaml {
    serde_yaml::from_str(SPEC).expect("openapi.yaml is YAML")
}

/// Path template -> its methods, upper-cased, as the spec lists them.
fn operations(spec: &Yaml) -> BTreeMap<String, BTreeSet<String>> {
    let paths = spec["paths"].as_mapping().expect("the spec has paths");
    paths
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_mapping()
                .expect("a path item is a mapping")
                .keys()
                .filter_map(Yaml::as_str)
                .map(str::to_uppercase)
                .filter(|m| METHODS.contains(&m.as_str()) || m == "TRACE")
                .collect();
            (path.as_str().unwrap().to_owned(), methods)
        })
        .collect()
}

/// Follows a local `$ref` (`#/components/...`) until it reaches a value.
fn resolve<'a>(spec: &'a Yaml, value: &'a Yaml) -> &'a Yaml {
    match value.get("$ref").and_then(Yaml::as_str) {
        Some(reference) => {
            let target = reference
                .strip_prefix("#/")
                .expect("only local references")
                .split('/')
                .fold(spec, |node, key| &node[key]);
            resolve(spec, target)
        }
        None => value,
    }
}

fn to_json(value: &Yaml) -> Json {
    serde_json::to_value(value).expect("an example is JSON")
}

/// The example of a request body or parameter: `example`, or the first of `examples`.
fn example(spec: &Yaml, node: &Yaml) -> Option<Json> {
    if let Some(value) = node.get("example") {
        return Some(to_json(value));
    }
    let examples = node.get("examples")?.as_mapping()?;
    let (_, first) = examples.iter().next()?;
    Some(to_json(&resolve(spec, first)["value"]))
}

/// The operation's one success status, such as 201.
fn success_status(spec: &Yaml, path: &str, method: &str) -> u16 {
    let responses = spec["paths"][path][method.to_lowercase()]["responses"]
        .as_mapping()
        .unwrap_or_else(|| panic!("{method} {path} lists no responses"));
    let mut success = responses
        .keys()
        .filter_map(|k| k.as_str().and_then(|s| s.parse::<u16>().ok()))
        .filter(|s| (200..300).contains(s));
    let status = success
        .next()
        .unwrap_or_else(|| panic!("{method} {path} lists no 2xx"));
    assert!(
        success.next().is_none(),
        "{method} {path} lists more than one 2xx"
    );
    status
}

/// The spec's example request for an operation: its query from parameter examples, its body from
/// the request body's example. Path parameters are filled by the caller.
fn example_request(spec: &Yaml, path: &str, method: &str) -> (Vec<(String, String)>, Option<Json>) {
    let operation = &spec["paths"][path][method.to_lowercase()];
    let mut query = Vec::new();
    for parameter in operation["parameters"].as_sequence().into_iter().flatten() {
        let parameter = resolve(spec, parameter);
        if parameter["in"].as_str() == Some("query") {
            if let Some(value) = example(spec, parameter) {
                let text = match value {
                    Json::String(text) => text,
                    other => other.to_string(),
                };
                query.push((parameter["name"].as_str().unwrap().to_owned(), text));
            }
        }
    }
    let body = operation
        .get("requestBody")
        .map(|b| &resolve(spec, b)["content"]["application/json"])
        .map(|media| {
            example(spec, media)
                .unwrap_or_else(|| panic!("{method} {path}: the request body has no example"))
        });
    (query, body)
}

fn fill(template: &str, id: &str) -> String {
    template.replace("{id}", id).replace("{asset}", ASSET)
}

/// An operation that needs no key: its `security` is the empty list.
fn is_public(spec: &Yaml, path: &str, method: &str) -> bool {
    spec["paths"][path][method.to_lowercase()]["security"]
        .as_sequence()
        .is_some_and(Vec::is_empty)
}

async fn send(app: &TestApp, method: &str, path: &str) -> reqwest::Response {
    app.http
        .request(method.parse().unwrap(), format!("{}{path}", app.url))
        .send()
        .await
        .unwrap()
}

#[test]
fn the_spec_has_the_templates_api_routes() {
    let template: Yaml = serde_yaml::from_str(TEMPLATE).expect("the template is YAML");
    let mut routes = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        for (_, event) in resource["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"].as_str() == Some("HttpApi") {
                let path = event["Properties"]["Path"].as_str().unwrap();
                if path != "$default" {
                    routes.insert(path.to_owned());
                }
            }
        }
    }
    let documented: BTreeSet<String> = operations(&spec()).into_keys().collect();
    assert!(!routes.is_empty(), "the template has no HttpApi routes");
    assert_eq!(
        documented, routes,
        "openapi.yaml's paths and infra/template.yaml's API routes differ"
    );
}

#[test]
fn every_operation_has_one_success_and_examples_to_probe_it() {
    let spec = spec();
    for (path, methods) in operations(&spec) {
        assert!(!methods.is_empty(), "{path} has no operation");
        for method in methods {
            success_status(&spec, &path, &method);
            example_request(&spec, &path, &method);
        }
    }
}

#[tokio::test]
async fn every_operation_in_the_spec_is_served() {
    let spec = spec();
    let app = spawn_app().await;
    let mut written = Vec::new();
    // Writes first, so that the routes with an {id} can be probed with a real, stored event.
    let mut operations: Vec<(String, String)> = operations(&spec)
        .into_iter()
        .flat_map(|(path, methods)| methods.into_iter().map(move |m| (path.clone(), m)))
        .collect();
    operations.sort_by_key(|(path, method)| (path.contains('{'), method != "POST"));

    for (path, method) in operations {
        let expected = success_status(&spec, &path, &method);
        let (query, body) = example_request(&spec, &path, &method);
        let deadline = Instant::now() + Duration::from_secs(15);
        let (status, answer) = loop {
            let url = fill(&path, written.first().map_or(UNKNOWN_ID, String::as_str));
            let mut request = app
                .http
                .request(method.parse().unwrap(), format!("{}{url}", app.url))
                .query(&query);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let answer: Json = response.json().await.unwrap_or(Json::Null);
            // An accepted event is stored asynchronously: a route with an {id} may 404 at first,
            // and the sealed log's routes until the first checkpoint is signed.
            let eventual = path.contains('{') || path.starts_with("/api/checkpoint");
            if status == expected || !eventual || Instant::now() > deadline {
                break (status, answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(
            status, expected,
            "{method} {path} is in openapi.yaml, but its example request answered {status} {answer}"
        );
        for log in answer
            .get("logs")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            written.extend(log["id"].as_str().map(str::to_owned));
        }
        written.extend(answer["log"]["id"].as_str().map(str::to_owned));
    }
    assert!(!written.is_empty(), "no operation wrote an event");
    app.running.stop().await;
}

#[tokio::test]
async fn methods_the_spec_does_not_list_answer_405_with_its_methods_in_allow() {
    let spec = spec();
    let app = spawn_app().await;
    for (path, listed) in operations(&spec) {
        let url = fill(&path, UNKNOWN_ID);
        for method in METHODS.iter().filter(|m| !listed.contains(**m)) {
            let response = send(&app, method, &url).await;
            assert_eq!(
                response.status(),
                405,
                "{method} {path} is not in openapi.yaml, so it must answer 405"
            );
            let allow: BTreeSet<String> = response.headers()["allow"]
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            assert_eq!(
                allow, listed,
                "{method} {path}: Allow differs from the spec's methods"
            );
            if *method != "HEAD" {
                let body: Json = response.json().await.unwrap();
                let message = format!("the {method} method is not supported for this resource");
                assert_eq!(body, serde_json::json!({ "error": message }));
            }
        }
    }
    app.running.stop().await;
}

#[tokio::test]
async fn a_malformed_key_gets_the_specs_401_on_every_operation() {
    let spec = spec();
    let app = spawn_app().await;
    for (path, methods) in operations(&spec) {
        for method in methods {
            let public = is_public(&spec, &path, &method);
            let responses = &spec["paths"][&path][method.to_lowercase()]["responses"];
            assert!(
                public || responses.get("401").is_some(),
                "{method} {path} lists no 401"
            );
            let (query, body) = example_request(&spec, &path, &method);
            let mut request = app
                .http
                .request(
                    method.parse().unwrap(),
                    format!("{}{}", app.url, fill(&path, UNKNOWN_ID)),
                )
                .query(&query)
                .header("authorization", "Basic dXNlcjpwYXNz");
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            if public {
                let expected = success_status(&spec, &path, &method);
                assert_eq!(response.status(), expected, "{method} {path} is public");
                continue;
            }
            assert_eq!(response.status(), 401, "{method} {path}");
            assert!(response.headers().contains_key("www-authenticate"));
        }
    }
    app.running.stop().await;
}

#[tokio::test]
async fn paths_next_to_the_specs_are_not_served() {
    let spec = spec();
    let documented = operations(&spec);
    let app = spawn_app().await;
    let mut candidates: Vec<String> = ["/api", "/api/logs", "/api/events", "/api/log", "/viewer"]
        .map(String::from)
        .to_vec();
    for template in documented.keys() {
        let path = fill(template, UNKNOWN_ID);
        candidates.push(format!("{path}/extra"));
        candidates.push(format!("/v1{path}"));
        // `{id}s` would still be the template's path, with another id.
        if !template.ends_with('}') {
            candidates.push(format!("{path}s"));
        }
    }
    for path in candidates {
        for method in ["GET", "POST", "PUT", "DELETE"] {
            let response = send(&app, method, &path).await;
            assert_eq!(
                response.status(),
                404,
                "{method} {path} is served, but openapi.yaml does not list it"
            );
            let body: Json = response.json().await.unwrap();
            assert_eq!(body, serde_json::json!({ "error": ROUTE_NOT_FOUND }));
        }
    }
    app.running.stop().await;
}
