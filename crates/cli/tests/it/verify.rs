//! `audit-log verify` against a log the runner sealed on the emulator: clean after redelivery-free
//! ingest with an idempotent retry, then each tampering an attacker with write access to the tables
//! can do, made through the SDK, is found and named.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use audit_aws::{Config, DynamoLog};
use audit_domain::seal::{items, CheckpointStore as _};
use audit_domain::Tenant;
use audit_local::{start, Settings};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

use crate::endpoint;

fn config() -> Config {
    let mut config = Config::from_lookup(|_| None).unwrap();
    config.auth = audit_domain::auth::AuthMode::Optional;
    let names = audit_infra::ResourceNames::unique("verify");
    config.checkpoint_bucket = names.table.replace("-events", "-checkpoints");
    config.table = names.table;
    config.counters_table = names.counters_table;
    config.log_table = names.log_table;
    config.signing_key = names.signing_key;
    config.seal_interval = Duration::from_secs(1);
    config.queue_url = format!("{}/123456789012/{}", endpoint(), names.queue);
    config
}

fn verify(config: &Config) -> (i32, Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_audit-log"))
        .args(["verify", "--tenant", "default", "--json", "--lag", "0"])
        .env("AUDIT_TABLE", &config.table)
        .env("AUDIT_COUNTERS_TABLE", &config.counters_table)
        .env("AUDIT_LOG_TABLE", &config.log_table)
        .env("AUDIT_SIGNING_KEY", &config.signing_key)
        .env("AUDIT_CHECKPOINT_BUCKET", &config.checkpoint_bucket)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("{output:?}"));
    (output.status.code().unwrap_or(-1), value)
}

fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

async fn item(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> HashMap<String, AttributeValue> {
    dynamo
        .get_item()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the item")
}

fn has(findings: &Value, kind: &str, field: &str, value: &Value) -> bool {
    findings
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["finding"] == kind && &f[field] == value)
}

#[tokio::test]
async fn verify_is_clean_then_names_every_tampering() {
    let config = config();
    let sdk = audit_infra::emulator_sdk_config(&endpoint()).await;
    let running = start(Settings {
        config: config.clone(),
        sdk: sdk.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        visibility_timeout: Some(1),
        poll_wait: Duration::from_secs(1),
        stream_deliveries: 1,
        seal: true,
    })
    .await
    .unwrap();
    let url = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let batch: Vec<Value> = (0..6)
        .map(|i| json!({"event_name": "user.login", "description": format!("event {i}")}))
        .collect();
    let written: Value = http
        .post(format!("{url}/api/write/batch"))
        .body(Value::Array(batch).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<String> = (0..6)
        .map(|i| written["logs"][i]["id"].as_str().unwrap().to_owned())
        .collect();
    // One event in two versions: an idempotent retry with another body.
    let retried = |d: &str| json!({"event_name": "key.rotated", "description": d, "created_at": "2026-11-30T08:00:00Z"});
    let first: Value = http
        .post(format!("{url}/api/write"))
        .header("Idempotency-Key", "k1")
        .body(retried("v1").to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let twice = first["log"]["id"].as_str().unwrap().to_owned();
    let log = DynamoLog::new(dynamo.clone(), &config.log_table);
    let tenant = Tenant::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while log.signed(&tenant, 7).await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "no checkpoint of 7");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pk = |id: &str| format!("E#default#{id}");
    let v1 = item(&dynamo, &config.table, &pk(&twice), "E").await;
    http.post(format!("{url}/api/write"))
        .header("Idempotency-Key", "k1")
        .body(retried("v2").to_string())
        .send()
        .await
        .unwrap();
    while log.signed(&tenant, 8).await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "no checkpoint of 8");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, clean) = verify(&config);
    assert_eq!((code, &clean["findings"]), (0, &json!([])), "{clean}");
    assert_eq!(
        (clean["events"].as_u64(), clean["leaves"].as_u64()),
        (Some(7), Some(8))
    );

    // The attacker: the seal is down (or they are quicker), and they have the tables.
    running.stop().await;
    let table = config.table.as_str();
    dynamo
        .update_item()
        .table_name(table)
        .set_key(Some(key(&pk(&ids[0]), "E")))
        .update_expression("SET description = :d")
        .expression_attribute_values(":d", AttributeValue::S("nothing happened".to_owned()))
        .send()
        .await
        .unwrap();
    dynamo
        .delete_item()
        .table_name(table)
        .set_key(Some(key(&pk(&ids[1]), "E")))
        .send()
        .await
        .unwrap();
    let mut forged = item(&dynamo, table, &pk(&ids[2]), "E").await;
    let forged_id = "01M8N395JPG0FQ815FX6Z4NTVH";
    forged.insert("pk".to_owned(), AttributeValue::S(pk(forged_id)));
    forged.insert("id".to_owned(), AttributeValue::S(forged_id.to_owned()));
    dynamo
        .put_item()
        .table_name(table)
        .set_item(Some(forged))
        .send()
        .await
        .unwrap();
    dynamo
        .put_item()
        .table_name(table)
        .set_item(Some(v1))
        .send()
        .await
        .unwrap();
    dynamo
        .delete_item()
        .table_name(&config.log_table)
        .set_key(Some(key(&items::signed_pk(&tenant), &items::signed_sk(7))))
        .send()
        .await
        .unwrap();
    // The open tile 0/0 is stored in segments: rewrite the first hash of the first one.
    let first_segment = dynamo
        .query()
        .table_name(&config.log_table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(items::tile_pk(&tenant)))
        .expression_attribute_values(":prefix", AttributeValue::S(items::segment_prefix(0, 0)))
        .limit(1)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
        .pop()
        .expect("tile 0/0 has a segment");
    let mut tile = first_segment;
    if let Some(AttributeValue::B(bytes)) = tile.get("h") {
        let mut bytes = bytes.clone().into_inner();
        bytes[0] ^= 1;
        tile.insert("h".to_owned(), AttributeValue::B(bytes.into()));
    }
    dynamo
        .put_item()
        .table_name(&config.log_table)
        .set_item(Some(tile))
        .send()
        .await
        .unwrap();

    let (code, found) = verify(&config);
    assert_eq!(code, 1, "{found}");
    let findings = &found["findings"];
    assert!(
        has(findings, "altered", "id", &json!(ids[0])),
        "altered: {findings}"
    );
    assert!(
        has(findings, "deleted", "id", &json!(ids[1])),
        "deleted: {findings}"
    );
    assert!(
        has(findings, "inserted", "id", &json!(forged_id)),
        "inserted: {findings}"
    );
    assert!(
        has(findings, "altered", "id", &json!(twice)),
        "rolled back: {findings}"
    );
    assert!(
        has(findings, "checkpoint", "size", &json!(7)),
        "checkpoint: {findings}"
    );
    assert!(
        has(findings, "tile", "tile", &json!("0/0")),
        "tile: {findings}"
    );
    // Nothing untouched is named.
    for id in &ids[3..] {
        assert!(
            !findings.to_string().contains(id.as_str()),
            "{id}: {findings}"
        );
    }
}
