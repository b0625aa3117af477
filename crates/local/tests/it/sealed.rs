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
    let mut tiles = TileSet::new();
    for item in log.query(&items::tile_pk(tenant)).await.unwrap() {
        let (level, index) = item.s("sk").unwrap().split_once('#').unwrap();
        tiles
            .insert(
                level.parse().unwrap(),
                index.parse().unwrap(),
                items::parse_tile(&item).unwrap(),
            )
            .unwrap();
    }
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
        if snap.head.is_some_and(|(size, _)| size >= n) || Instant::now() > deadline {
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
