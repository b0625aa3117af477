//! Sealing, against the emulator, in one run: the write units the seal function adds per event,
//! `verify`'s throughput, and what one proof reads and answers, at a small and a large log.
//!
//! - **Sealing.** `events` events of one tenant are stored in the events table with their writer
//!   HMAC (`mac`, as the drain writes them), and fed to the seal function's own handler
//!   (`Seal::invoke`) as stream-shaped `INSERT` records in batches of 100 (the template's
//!   `SealBatchSize`), with the tumbling-window `shardId`, as the runner's stream poller sends
//!   them. The records are built from the stored items rather than read back from moto's stream,
//!   so the numbering race of moto's stream (README, "Known limits") is not part of the figures.
//!   Signed checkpoints come from the schedule's code path (`Checkpointer::run`, KMS signing RAW).
//! - **Write units** are metered as `functions/seal`'s `write_units_per_event_stay_within_budget`
//!   meters them: by DynamoDB's size rule on each item written (the adapter's `WriteMeter`), here
//!   also split by what was written. Then again with each batch of 100 spread over 10 tenants
//!   (10 events each), into the same log table under another shard.
//! - **`verify`** is `audit_cli::verify::check`, the code behind `audit-log verify --tenant T`, timed
//!   at `small` and at `events` events.
//! - **Proofs** are `GET /api/logs/{id}/proof` through the read function's handler; items read are
//!   counted on the log store under it, and the answer's size is its JSON body's.
//!
//! Usage: bench-seal [events, default 30000] [small, default 1000] [spread events, default 30000]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_aws::{Config, DynamoLog, DynamoReader, KmsSigner, S3Archive};
use audit_bench::{events, put_items, sdk, size};
use audit_domain::auth::{AuthMode, AuthPolicy, Verifier};
use audit_domain::counters::{SequenceNumber, ShardId};
use audit_domain::layout::EventRecord as StoredEvent;
use audit_domain::ports::StoreError;
use audit_domain::seal::{
    CheckpointStore, Head, LeafEntry, LogStore, Signed, Swap, TileOutcome, WriterKey,
};
use audit_domain::testing::{MemoryKeys, RecordingQueue};
use audit_domain::{Event, Tenant};
use audit_infra::{self as infra, InfraSpec, ResourceNames};
use audit_read::proofs::Proofs;
use audit_read::{context, ReadHandler};
use audit_seal::checkpoint::Checkpointer;
use audit_seal::{Invocation, Seal};
use audit_tlog::{Hash, TileWrite};
use aws_lambda_events::event::dynamodb::EventRecord;
use lambda_http::{Body, Request};
use serde_json::Value;

/// Records per invocation, as the template's `SealBatchSize`.
const BATCH: usize = 100;
/// Tenants each batch is spread over in the second workload.
const SPREAD_TENANTS: usize = 10;

/// What passed through the log store: write units by what was written (each call's share of the
/// adapter's meter, so calls must not overlap, and here they never do), and items and requests read.
#[derive(Debug, Default)]
struct Tally {
    head: AtomicU64,
    lookups: AtomicU64,
    tiles: AtomicU64,
    shard_checkpoint: AtomicU64,
    signed: AtomicU64,
    items_read: AtomicU64,
    reads: AtomicU64,
}

impl Tally {
    fn seal_units(&self) -> [(&'static str, u64); 4] {
        [
            ("lookups", self.lookups.load(Ordering::Relaxed)),
            ("heads", self.head.load(Ordering::Relaxed)),
            ("tiles", self.tiles.load(Ordering::Relaxed)),
            (
                "shard checkpoints",
                self.shard_checkpoint.load(Ordering::Relaxed),
            ),
        ]
    }

    fn read(&self, items: usize) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.items_read.fetch_add(items as u64, Ordering::Relaxed);
    }

    fn reset_reads(&self) {
        self.reads.store(0, Ordering::Relaxed);
        self.items_read.store(0, Ordering::Relaxed);
    }
}

/// The DynamoDB log store, tallied.
#[derive(Clone)]
struct Tallied {
    log: DynamoLog,
    tally: Arc<Tally>,
}

impl Tallied {
    fn new(log: DynamoLog) -> Self {
        Self {
            log,
            tally: Arc::default(),
        }
    }

    /// Runs a write and books the units it spent to `counter`.
    async fn booked<T>(
        &self,
        counter: &AtomicU64,
        write: impl std::future::Future<Output = T>,
    ) -> T {
        let before = self.log.meter().units();
        let outcome = write.await;
        counter.fetch_add(self.log.meter().units() - before, Ordering::Relaxed);
        outcome
    }
}

impl LogStore for Tallied {
    async fn checkpoint(&self, shard: &ShardId) -> Result<Option<SequenceNumber>, StoreError> {
        let found = self.log.checkpoint(shard).await?;
        self.tally.read(usize::from(found.is_some()));
        Ok(found)
    }

    async fn set_checkpoint(
        &self,
        shard: &ShardId,
        expected: Option<&SequenceNumber>,
        next: &SequenceNumber,
    ) -> Result<Swap, StoreError> {
        self.booked(
            &self.tally.shard_checkpoint,
            self.log.set_checkpoint(shard, expected, next),
        )
        .await
    }

    async fn head(&self, tenant: &Tenant) -> Result<Option<Head>, StoreError> {
        let found = self.log.head(tenant).await?;
        self.tally.read(usize::from(found.is_some()));
        Ok(found)
    }

    async fn put_head(
        &self,
        tenant: &Tenant,
        expected: u64,
        head: &Head,
    ) -> Result<Swap, StoreError> {
        self.booked(&self.tally.head, self.log.put_head(tenant, expected, head))
            .await
    }

    async fn put_leaves(&self, tenant: &Tenant, entries: &[LeafEntry]) -> Result<(), StoreError> {
        self.booked(&self.tally.lookups, self.log.put_leaves(tenant, entries))
            .await
    }

    async fn write_tile(
        &self,
        tenant: &Tenant,
        write: &TileWrite,
    ) -> Result<TileOutcome, StoreError> {
        self.booked(&self.tally.tiles, self.log.write_tile(tenant, write))
            .await
    }

    async fn tile(&self, tenant: &Tenant, level: u8, index: u64) -> Result<Vec<Hash>, StoreError> {
        // A full tile is one request; an open one also a query of its segments.
        let meter = self.log.tile_reads();
        let (requests, items) = (meter.requests(), meter.items());
        let hashes = self.log.tile(tenant, level, index).await?;
        self.tally
            .reads
            .fetch_add(meter.requests() - requests, Ordering::Relaxed);
        self.tally
            .items_read
            .fetch_add(meter.items() - items, Ordering::Relaxed);
        Ok(hashes)
    }

    async fn leaves_of(&self, tenant: &Tenant, id: &str) -> Result<Vec<LeafEntry>, StoreError> {
        let leaves = self.log.leaves_of(tenant, id).await?;
        self.tally.read(leaves.len());
        Ok(leaves)
    }
}

impl CheckpointStore for Tallied {
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let tenants = self.log.tenants().await?;
        self.tally.read(tenants.len());
        Ok(tenants)
    }

    async fn latest_signed(&self, tenant: &Tenant) -> Result<Option<Signed>, StoreError> {
        let found = self.log.latest_signed(tenant).await?;
        self.tally.read(usize::from(found.is_some()));
        Ok(found)
    }

    async fn signed(&self, tenant: &Tenant, size: u64) -> Result<Option<Signed>, StoreError> {
        let found = self.log.signed(tenant, size).await?;
        self.tally.read(usize::from(found.is_some()));
        Ok(found)
    }

    async fn put_signed(
        &self,
        tenant: &Tenant,
        size: u64,
        signed: &Signed,
    ) -> Result<(), StoreError> {
        self.booked(
            &self.tally.signed,
            self.log.put_signed(tenant, size, signed),
        )
        .await
    }
}

/// The item the drain stores for `event`: its record with the writer HMAC.
fn stored(event: &Event, key: &WriterKey) -> StoredEvent {
    let mut record = StoredEvent::new(event, 8);
    record.mac = key.mac_event(event);
    record
}

/// The stream's `INSERT` record of a stored item, numbered `n`.
fn insert_record(n: u64, item: &StoredEvent) -> EventRecord {
    let mut record = EventRecord::default();
    record.event_id = format!("{n:032x}");
    record.event_name = "INSERT".to_owned();
    record.event_source = Some("aws:dynamodb".to_owned());
    record.change.sequence_number = Some((100_000_000_000_000_000_000u128 + n as u128).to_string());
    record.change.new_image = serde_dynamo::to_item(item).expect("an event item");
    record
}

/// Feeds `records` to the handler in batches of 100; returns the time taken.
async fn seal_all(seal: &Seal<Tallied>, shard: &str, records: Vec<EventRecord>) -> Duration {
    let start = Instant::now();
    let total = records.len();
    let mut done = 0;
    let mut batches = records.into_iter().peekable();
    while batches.peek().is_some() {
        let batch: Vec<EventRecord> = batches.by_ref().take(BATCH).collect();
        done += batch.len();
        let invocation = Invocation {
            records: batch,
            shard_id: Some(shard.to_owned()),
        };
        let (response, report) = seal.invoke(invocation).await.expect("an invocation");
        assert!(
            response.batch_item_failures.is_empty(),
            "sealing failed: {report:?}"
        );
        if done % 5000 == 0 {
            eprintln!(
                "bench-seal: sealing {done}/{total} ({:.0?})",
                start.elapsed()
            );
        }
    }
    start.elapsed()
}

/// Stores `events` in the events table, as the drain would (4 calls in flight).
async fn store(client: &aws_sdk_dynamodb::Client, table: &str, records: &[StoredEvent]) {
    let items: Vec<size::Item> = records
        .iter()
        .map(|r| serde_dynamo::to_item(r).expect("an event item"))
        .collect();
    let chunks: Vec<Vec<size::Item>> = items.chunks(25).map(<[_]>::to_vec).collect();
    let start = Instant::now();
    put_items(client, table, chunks, 4, |done, total| {
        if done % 400 == 0 {
            eprintln!(
                "bench-seal: seeding {done}/{total} calls ({:.0?})",
                start.elapsed()
            );
        }
    })
    .await;
}

fn units_line(label: &str, tally: &Tally, events: usize) {
    let parts = tally.seal_units();
    let total: u64 = parts.iter().map(|(_, u)| u).sum();
    let split: Vec<String> = parts
        .iter()
        .map(|(what, units)| format!("{what} {:.3}", *units as f64 / events as f64))
        .collect();
    println!(
        "write units per event sealed, {label}: {:.3} ({}; target <= 1.25)",
        total as f64 / events as f64,
        split.join(", ")
    );
}

/// ceil(log2 n): the most hashes an inclusion proof in a tree of `n` leaves holds.
fn ceil_log2(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

type Handler = ReadHandler<DynamoReader, MemoryKeys, RecordingQueue>;

async fn proofs(handler: &Handler, tally: &Tally, size: u64, picks: &[(u64, &str)]) {
    for (index, id) in picks {
        tally.reset_reads();
        let request: Request = lambda_http::http::Request::builder()
            .uri(format!("/api/logs/{id}/proof"))
            .body(Body::Empty)
            .unwrap();
        let response = handler.handle(request).await;
        assert_eq!(response.status(), 200, "the proof of {id}");
        let Body::Text(text) = response.body() else {
            panic!("not text")
        };
        let answer: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            answer["tree_size"], size,
            "a proof against the latest checkpoint"
        );
        let version = &answer["versions"][0];
        assert_eq!(version["leaf_index"], *index);
        let hashes = version["inclusion"].as_array().map_or(0, Vec::len);
        let bound = ceil_log2(size);
        println!(
            "{size:>7} | leaf {index:>6} | {hashes:>2} hashes (ceil(log2 n) = {bound}{}) | {:>2} items read {:>2} req | answer {:>5} bytes",
            if hashes as u32 <= bound { "" } else { ", OVER" },
            tally.items_read.load(Ordering::Relaxed),
            tally.reads.load(Ordering::Relaxed),
            text.len()
        );
    }
}

/// Times `verify`'s checks of the default tenant twice (the first run also pays the emulator's
/// first calls of its kind); returns the second run's events checked per second.
async fn verify(config: &Config, expected: usize) -> anyhow::Result<f64> {
    let mut rate = 0.0;
    for run in ["first", "second"] {
        let start = Instant::now();
        let outcome = audit_cli::verify::check(config, &Tenant::default(), Duration::ZERO).await?;
        let elapsed = start.elapsed();
        rate = outcome.events as f64 / elapsed.as_secs_f64();
        println!(
            "verify {:>6} events, {run:<6} run: {:>6.2} s, {rate:>6.0} events/s ({} leaves, {} checkpoints, {} findings)",
            outcome.events,
            elapsed.as_secs_f64(),
            outcome.leaves,
            outcome.checkpoints,
            outcome.findings.len()
        );
        anyhow::ensure!(
            outcome.findings.is_empty() && outcome.events == expected && outcome.leaves == expected,
            "verify should find {expected} events, each one leaf, and nothing wrong: {:?}",
            outcome.findings
        );
    }
    Ok(rate)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    audit_telemetry::init_tracing(audit_aws::Config::from_env()?.log_format);
    let mut args = std::env::args().skip(1);
    let mut arg = |default: usize| -> anyhow::Result<usize> {
        Ok(args
            .next()
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let large = arg(30_000)?;
    let small = arg(1000)?.min(large);
    let spread = arg(30_000)?;
    let sdk = sdk().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let names = ResourceNames::unique("bench-seal");
    let created = infra::ensure(
        &dynamo,
        &sqs,
        &InfraSpec::from_template(infra::TEMPLATE)?,
        &names,
        None,
    )
    .await?;
    infra::ensure_signing_key(&aws_sdk_kms::Client::new(&sdk), &created.signing_key).await?;
    let bucket = names
        .table
        .replace("-events", "-checkpoints")
        .to_lowercase();
    infra::ensure_checkpoint_bucket(&aws_sdk_s3::Client::new(&sdk), &bucket).await?;

    // The settings `audit-log verify` would read, naming this run's resources.
    let settings = HashMap::from([
        ("AUDIT_TABLE", created.table.clone()),
        ("AUDIT_COUNTERS_TABLE", created.counters_table.clone()),
        ("AUDIT_LOG_TABLE", created.log_table.clone()),
        ("AUDIT_SIGNING_KEY", created.signing_key.clone()),
        ("AUDIT_CHECKPOINT_BUCKET", bucket.clone()),
    ]);
    let config = Config::from_lookup(move |name| {
        settings
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })?;

    let key = WriterKey::development();
    let log = Tallied::new(DynamoLog::new(dynamo.clone(), &created.log_table));
    let seal = Seal::new(log.clone(), key.clone());
    let checkpointer = Checkpointer::new(
        log.clone(),
        KmsSigner::from_sdk(&sdk, &created.signing_key),
        S3Archive::from_sdk(&sdk, &bucket, 1),
        &config.log_origin,
        Duration::ZERO,
    );
    // Keyless requests act for the default tenant; key checks are not what is measured.
    let handler = ReadHandler::new(
        DynamoReader::new(dynamo.clone(), &created.table, &created.counters_table),
        RecordingQueue::default(),
        context(&config),
        Verifier::new(MemoryKeys::default(), AuthPolicy::new(AuthMode::Optional)),
    )
    .with_log(Arc::new(Proofs::new(
        log.clone(),
        KmsSigner::from_sdk(&sdk, &created.signing_key),
    )));

    println!(
        "bench-seal: {large} events of one tenant sealed in batches of {BATCH} through the seal handler, through {}",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default()
    );
    let all: Vec<StoredEvent> = events(large, 11).iter().map(|e| stored(e, &key)).collect();
    let shard = "shardId-00000001764806400000-bench1";
    let mut rates = Vec::new();
    let mut sealing = Duration::ZERO;
    for (from, to) in [(0, small), (small, large)] {
        if to <= from {
            continue;
        }
        store(&dynamo, &created.table, &all[from..to]).await;
        let records = (from..to)
            .map(|n| insert_record(n as u64, &all[n]))
            .collect();
        sealing += seal_all(&seal, shard, records).await;
        checkpointer.run(chrono::Utc::now()).await?;
        let size = to as u64;
        let mut picks: Vec<(u64, &str)> = [0, small / 2, small - 1]
            .iter()
            .map(|&i| (i as u64, all[i].id.as_str()))
            .collect();
        if from > 0 {
            picks.extend(
                [to / 2, to - 1]
                    .iter()
                    .map(|&i| (i as u64, all[i].id.as_str())),
            );
        }
        rates.push((to, verify(&config, to).await?));
        proofs(&handler, &log.tally, size, &picks).await;
    }
    println!(
        "sealing through the handler: {:.0} events/s on the emulator ({large} events, {:.1} s)",
        large as f64 / sealing.as_secs_f64(),
        sealing.as_secs_f64()
    );
    if let [(n1, r1), (n2, r2)] = rates[..] {
        println!(
            "verify (second runs): {r1:.0} events/s at {n1}, {r2:.0} events/s at {n2}, ratio {:.2}",
            r2 / r1
        );
    }
    units_line("1 tenant, 100 a batch", &log.tally, large);
    println!(
        "signed checkpoints: {} write units for {} checkpoints",
        log.tally.signed.load(Ordering::Relaxed),
        rates.len()
    );

    // The same handler code, each batch of 100 over 10 tenants, under a shard of its own.
    let spread_log = Tallied::new(DynamoLog::new(dynamo.clone(), &created.log_table));
    let spread_seal = Seal::new(spread_log.clone(), key.clone());
    let tenants: Vec<Tenant> = (0..SPREAD_TENANTS)
        .map(|t| Tenant::parse(&format!("spread-{t}")).expect("a tenant"))
        .collect();
    let records: Vec<EventRecord> = events(spread, 12)
        .into_iter()
        .enumerate()
        .map(|(n, mut event)| {
            event.tenant = tenants[n % SPREAD_TENANTS].clone();
            insert_record(n as u64, &stored(&event, &key))
        })
        .collect();
    let spent = seal_all(&spread_seal, "shardId-00000001764806400000-bench2", records).await;
    eprintln!("bench-seal: sealed {spread} spread events in {spent:.1?}");
    units_line(
        &format!("{SPREAD_TENANTS} tenants, 10 of each a batch"),
        &spread_log.tally,
        spread,
    );
    Ok(())
}
