//! The sealed log through the whole runner, against the emulator: events posted to the API are
//! stored by the drain (with the writer HMAC) and sealed by the seal function from the table's
//! stream. The stored log must be a well-formed tree whose latest leaf per id is the stored
//! event's, after idempotent retries with the same and with another body, and a redelivery of the
//! whole stream; and the seal's own writes are metered.

use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use audit_aws::DynamoLog;
use audit_domain::seal::audit::{check_events, check_tree, StoredVersion};
use audit_domain::seal::WriterKey;
use audit_domain::seal::{items, LeafEntry, LogStore, Writer};
use audit_domain::Tenant;
use audit_local::stream::{BoxError, StreamHandler, StreamPoller};
use audit_seal::{Invocation, Seal};
use audit_tlog::TileSet;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::common::{spawn_app, TestApp};

pub struct Snapshot {
    pub leaves: Vec<LeafEntry>,
    pub tiles: TileSet,
    pub head: Option<(u64, audit_tlog::Hash)>,
}

pub async fn snapshot(log: &DynamoLog, tenant: &Tenant) -> Snapshot {
    let leaves = log
        .scan_prefix(&items::lookup_prefix(tenant))
        .await
        .unwrap()
        .iter()
        .filter_map(items::parse_lookup)
        .collect();
    let (tiles, unreadable) =
        items::tiles_of(&log.query(&items::tile_pk(tenant)).await.unwrap()).into_set();
    assert_eq!(unreadable, Vec::<String>::new(), "unreadable tiles");
    let head = log
        .head(tenant)
        .await
        .unwrap()
        .map(|h| (h.size(), h.root()));
    Snapshot {
        leaves,
        tiles,
        head,
    }
}

/// Waits until the tenant's log holds `n` leaves.
pub async fn wait_for_leaves(app: &TestApp, n: u64, limit: Duration) -> Snapshot {
    let log = DynamoLog::new(app.dynamo.clone(), &app.config.log_table);
    let deadline = Instant::now() + limit;
    loop {
        let snap = snapshot(&log, &Tenant::default()).await;
        // The head moves first, then the lookups and tiles: wait for the tree to be whole.
        let whole = check_tree(&snap.leaves, &snap.tiles, snap.head)
            .1
            .is_empty();
        if (whole && snap.head.is_some_and(|(size, _)| size >= n)) || Instant::now() > deadline {
            return snap;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn post_with_key(app: &TestApp, key: &str, body: &Value) {
    let response = app
        .http
        .post(format!("{}/api/write", app.url))
        .header("Idempotency-Key", key)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn stored_events_and_their_retries_are_sealed_once_each_version() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..30)
        .map(|i| json!({"event_name": "user.login", "description": format!("event {i}"), "customer_id": i}))
        .collect();
    let response = app
        .post("/api/write/batch", &Value::Array(batch).to_string())
        .await;
    assert_eq!(response.status(), 201);
    let first = json!({"event_name": "key.rotated", "description": "first", "created_at": "2026-11-30T08:00:00Z"});
    post_with_key(&app, "retry-1", &first).await;
    app.wait_for_events(31, Duration::from_secs(60)).await;
    // The same body again: a MODIFY with the same log, no leaf. Then another body: a new version.
    post_with_key(&app, "retry-1", &first).await;
    let second = json!({"event_name": "key.rotated", "description": "second", "created_at": "2026-11-30T08:00:00Z"});
    post_with_key(&app, "retry-1", &second).await;

    let snap = wait_for_leaves(&app, 32, Duration::from_secs(60)).await;
    let (hashes, findings) = check_tree(&snap.leaves, &snap.tiles, snap.head);
    assert_eq!(findings, []);
    assert_eq!(hashes.len(), 32, "31 events, one of them in two versions");
    let events = app.events().await;
    assert_eq!(events.len(), 31);
    let versions: Vec<StoredVersion> = events
        .iter()
        .map(|record| StoredVersion {
            record,
            settled: true,
        })
        .collect();
    assert_eq!(check_events(&versions, &snap.leaves), []);
    assert!(snap.leaves.iter().all(|l| l.writer == Writer::Service));

    // The schedule signs a checkpoint of the whole tree, with the KMS key, over the body's bytes.
    let log = DynamoLog::new(app.dynamo.clone(), &app.config.log_table);
    let signed = wait_for_checkpoint(&log, 32, Duration::from_secs(30)).await;
    let checkpoint = audit_tlog::Checkpoint::parse(&signed.body).unwrap();
    assert_eq!(checkpoint.size().get(), 32);
    assert_eq!(*checkpoint.root(), audit_tlog::mth(&hashes));
    assert_eq!(checkpoint.origin().as_str(), "audit-log/default");
    let kms = audit_aws::KmsSigner::from_sdk(&crate::common::sdk().await, &app.config.signing_key);
    let public_key = audit_domain::seal::Signer::public_key(&kms).await.unwrap();
    assert!(verifies(
        &public_key,
        signed.body.as_bytes(),
        &signed.signature
    ));
    // Its copy under Object Lock is the same, and cannot be deleted.
    let sdk = crate::common::sdk().await;
    let archive = audit_aws::S3Archive::from_sdk(&sdk, &app.config.checkpoint_bucket, 1);
    use audit_domain::seal::Archive as _;
    assert_eq!(
        archive.get(&Tenant::default(), 32).await.unwrap(),
        Some(signed.clone())
    );
    let s3 = audit_aws::endpoint::s3_client(&sdk);
    let key = audit_domain::seal::archive_key(&Tenant::default(), 32);
    let head = s3
        .head_object()
        .bucket(&app.config.checkpoint_bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.object_lock_mode().map(|m| m.as_str()),
        Some("COMPLIANCE")
    );
    let deleted = s3
        .delete_object()
        .bucket(&app.config.checkpoint_bucket)
        .key(&key)
        .set_version_id(head.version_id().map(str::to_owned))
        .send()
        .await;
    assert!(deleted.is_err(), "a locked version cannot be deleted");
    let mut forged = signed.body.clone().into_bytes();
    let at = forged.len() - 3;
    forged[at] ^= 1;
    assert!(!verifies(&public_key, &forged, &signed.signature));

    // A whole redelivery of the stream: a second seal mapping reads it from the trim horizon. The
    // checkpoint and claims make it write nothing.
    let counting = Arc::new(Counting {
        seal: Seal::new(log.clone(), WriterKey::development()),
        records: AtomicUsize::new(0),
    });
    let (stop, stopped) = watch::channel(false);
    let poller = StreamPoller {
        dynamo: app.dynamo.clone(),
        streams: aws_sdk_dynamodbstreams::Client::new(&crate::common::sdk().await),
        table: app.config.table.clone(),
        region: "us-east-1".to_owned(),
        handler: counting.clone(),
        batch_size: 7,
        idle: Duration::from_millis(100),
        deliveries: 1,
    };
    let task = tokio::spawn(poller.run(stopped));
    let deadline = Instant::now() + Duration::from_secs(30);
    // 31 inserts and 2 modifies at least (moto may add a record per write).
    while counting.records.load(Ordering::SeqCst) < 33 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    task.await.unwrap();
    assert!(counting.records.load(Ordering::SeqCst) >= 33);
    assert_eq!(log.meter().writes(), 0, "a redelivery writes nothing");
    let again = snapshot(&log, &Tenant::default()).await;
    assert_eq!(again.head, snap.head);
}

/// Whether `signature` (DER) is a valid ECDSA P-256 SHA-256 signature of `message` by the key in
/// `public_key` (DER SubjectPublicKeyInfo), as a client checks it.
pub fn verifies(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;
    let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(public_key) else {
        return false;
    };
    let Ok(signature) = p256::ecdsa::Signature::from_der(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

pub async fn wait_for_checkpoint(
    log: &DynamoLog,
    size: u64,
    limit: Duration,
) -> audit_domain::seal::Signed {
    use audit_domain::seal::CheckpointStore as _;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(signed) = log.signed(&Tenant::default(), size).await.unwrap() {
            return signed;
        }
        assert!(Instant::now() < deadline, "no checkpoint of size {size}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A seal handler that counts the records it was handed.
struct Counting {
    seal: Seal<DynamoLog>,
    records: AtomicUsize,
}

impl StreamHandler for Counting {
    fn handle(
        &self,
        payload: Value,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, BoxError>> + Send + '_>> {
        Box::pin(async move {
            let invocation: Invocation = serde_json::from_value(payload)?;
            self.records
                .fetch_add(invocation.records.len(), Ordering::SeqCst);
            let (response, _) = self.seal.invoke(invocation).await?;
            Ok(response
                .batch_item_failures
                .into_iter()
                .filter_map(|f| f.item_identifier)
                .collect())
        })
    }
}

fn hashes(value: &Value) -> Vec<audit_tlog::Hash> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|h| audit_tlog::Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

fn b64(value: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap())
        .unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Waits for a checkpoint of at least `size` through the API.
async fn api_checkpoint(app: &TestApp, size: u64) -> (Value, audit_tlog::Checkpoint) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get_json(app, "/api/checkpoint").await;
        if status == 200 {
            let checkpoint =
                audit_tlog::Checkpoint::parse(body["checkpoint"].as_str().unwrap()).unwrap();
            if checkpoint.size().get() >= size {
                return (body, checkpoint);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of {size}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_client_checks_an_event_against_a_signed_checkpoint_with_the_api_alone() {
    let app = spawn_app().await;
    // Before anything is stored: no checkpoint, and an unknown id is a 404.
    assert_eq!(get_json(&app, "/api/checkpoint").await.0, 404);
    assert_eq!(
        get_json(&app, "/api/logs/01M8N395JPG0FQ815FX6Z4NTVH/proof")
            .await
            .0,
        404
    );
    let batch: Vec<Value> = (0..12)
        .map(|i| json!({"event_name": "user.login", "description": format!("event {i}"), "metadata": {"n": i, "x": 1.5}}))
        .collect();
    let response = app
        .post("/api/write/batch", &Value::Array(batch).to_string())
        .await;
    assert_eq!(response.status(), 201);
    let written: Value = response.json().await.unwrap();
    let id = written["logs"][3]["id"].as_str().unwrap().to_owned();
    let (first_body, first) = api_checkpoint(&app, 12).await;
    assert_eq!(first.size().get(), 12);
    let public_key = b64(&first_body["public_key"]);
    assert!(verifies(
        &public_key,
        first_body["checkpoint"].as_str().unwrap().as_bytes(),
        &b64(&first_body["signature"])
    ));

    // The event as the API shows it, its leaf, and its inclusion proof.
    let (status, shown) = get_json(&app, &format!("/api/logs/{id}")).await;
    assert_eq!(status, 200);
    let leaf = audit_tlog::event_leaf(&shown["log"]).unwrap();
    let (status, proof) = get_json(&app, &format!("/api/logs/{id}/proof")).await;
    assert_eq!(status, 200, "{proof}");
    assert_eq!(proof["tree_size"], 12);
    let version = &proof["versions"][0];
    assert_eq!(
        (version["kind"].as_str(), version["writer"].as_str()),
        (Some("event"), Some("service"))
    );
    let index = version["leaf_index"].as_u64().unwrap();
    let path = hashes(&version["inclusion"]);
    assert!(
        path.len() <= 4,
        "O(log n): {} hashes at 12 leaves",
        path.len()
    );
    audit_tlog::verify_inclusion(&leaf, index, first.size(), &path, first.root()).unwrap();
    // A wrong index does not verify.
    assert!(audit_tlog::verify_inclusion(
        &leaf,
        (index + 1) % 12,
        first.size(),
        &path,
        first.root()
    )
    .is_err());

    // More events: a later checkpoint, consistent with the first.
    let more: Vec<Value> = (0..9)
        .map(|i| json!({"event_name": "user.logout", "description": format!("later {i}")}))
        .collect();
    assert_eq!(
        app.post("/api/write/batch", &Value::Array(more).to_string())
            .await
            .status(),
        201
    );
    let (_, second) = api_checkpoint(&app, 21).await;
    let (status, consistency) = get_json(&app, "/api/checkpoint/consistency?from=12&to=21").await;
    assert_eq!(status, 200, "{consistency}");
    audit_tlog::verify_consistency(
        first.size(),
        second.size(),
        &hashes(&consistency["proof"]),
        first.root(),
        second.root(),
    )
    .unwrap();
    // The first checkpoint is still served by its size, and the proof against it too.
    let (status, again) = get_json(&app, "/api/checkpoint?size=12").await;
    assert_eq!(
        (status, &again["checkpoint"]),
        (200, &first_body["checkpoint"])
    );
    let (status, old) = get_json(&app, &format!("/api/logs/{id}/proof?size=12")).await;
    assert_eq!((status, old["tree_size"].as_u64()), (200, Some(12)));

    // Bad parameters: 422 keyed by field; a size with no checkpoint: 404.
    for (path, field) in [
        ("/api/checkpoint?size=0", "size"),
        ("/api/checkpoint?size=abc", "size"),
        ("/api/checkpoint/consistency?to=3", "from"),
        ("/api/checkpoint/consistency?from=5&to=3", "to"),
        ("/api/checkpoint/consistency?from=1&to=999", "to"),
    ] {
        let (status, body) = get_json(&app, path).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert!(body["error"][field].is_string(), "{path}: {body}");
    }
    assert_eq!(get_json(&app, "/api/checkpoint?size=13").await.0, 404);
}
