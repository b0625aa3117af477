//! Cases 6 and 7: the stream side. The runner is SIGKILLed while its stream poller feeds the count
//! function, or every stream batch is delivered twice; either way, once the stream is consumed, every
//! counter equals a brute-force recount of the stored events (`audit-log counters check`'s
//! comparison), and every 201 is stored once.
//!
//! The load sends its events two to a request. Then one queue receive (10 messages) is one drain
//! chunk, one `BatchWriteItem` in flight: moto numbers stream records racily when writes to one
//! table overlap (README, "Emulator stream races"), and these cases test the count function's
//! exactness, not that emulator race.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use audit_aws::counters::DynamoCounters;
use audit_domain::counters::tenant_partition;

use super::check::{assert_exactly_once, count_events};
use super::load::{Ledger, Load};
use super::runner::Runner;
use super::{aws, common, Aws, VISIBILITY};

/// How long the counters may take to catch up with the stream once the queue is drained.
const COUNT_LIMIT: Duration = Duration::from_secs(120);

/// Case 6: SIGKILL while the stream poller is mid-stream (events stored, not all counted yet), then
/// a restart, which reads the shard again from the trim horizon.
#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn a_runner_killed_while_counting_then_restarted_counts_each_event_once() {
    let started = Instant::now();
    let aws = aws().await;
    let config = common::test_config();
    let mut runner = Runner::start(&config, &common::endpoint(), VISIBILITY, "count-kill").await;
    let counters = DynamoCounters::new(aws.dynamo.clone(), &config.counters_table);
    let tenant = tenant_partition(&config.tenant);

    let first = Load::new("count-kill", 1500, 2);
    let stop = first.stop.clone();
    let sending = tokio::spawn(first.run(runner.url.clone()));
    // Kill once some events are counted and more are stored than counted: the poller is then
    // between a batch it has read and one it has not.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (mut stored, mut counted) = (0, 0);
    while Instant::now() < deadline && !sending.is_finished() {
        counted = counters.get_total(&tenant).await.unwrap().sum;
        stored = count_events(&aws.dynamo, &config.table).await as i64;
        if counted >= 100 && stored > counted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    runner.kill();
    stop.store(true, Ordering::SeqCst);
    let mut ledger = Ledger::default();
    ledger.add(&sending.await.unwrap());
    println!("  killed with {counted} events counted of {stored} stored");
    assert!(
        counted > 0 && stored > counted,
        "the kill should land while the stream is being counted ({counted} of {stored})"
    );

    let runner = Runner::restart(&config, &common::endpoint(), VISIBILITY, "count-kill").await;
    let second = Load {
        first: 1500,
        events: 500,
        ..Load::new("count-kill", 0, 2)
    };
    ledger.add(&second.run(runner.url.clone()).await);
    let stored = aws.drained(&config).await;
    assert_exactly_once("count-kill", &aws.dynamo, &config.table, &ledger).await;
    assert_counters_exact(&aws, &config, stored).await;
    aws.finish(&config, runner, started).await;
}

/// Case 7: the runner's stream poller hands the count function every batch twice in a row, as a
/// Lambda retry after a lost answer would deliver it (`stream_poller.rs` shows that it does).
///
/// Both deliveries come from the one poller, one after the other: with `ParallelizationFactor` 1
/// Lambda never runs two invocations of one shard at once. (Two concurrent consumers of one shard
/// lose counts on the emulator, whose `TransactWriteItems` is not isolated from a concurrent one:
/// 1,481 of 1,500 in a first version of this case.)
#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn every_stream_batch_delivered_twice_counts_each_event_once() {
    let started = Instant::now();
    let aws = aws().await;
    let app = common::spawn_app_delivering(common::test_config(), 2).await;
    let config = app.config.clone();

    let mut ledger = Ledger::default();
    ledger.add(&Load::new("twice", 1500, 2).run(app.url.clone()).await);
    let stored = aws.drained(&config).await;
    assert_exactly_once("twice", &aws.dynamo, &config.table, &ledger).await;
    assert_counters_exact(&aws, &config, stored).await;

    let created = app.running.created();
    app.running.stop().await;
    audit_infra::remove(&aws.dynamo, &aws.sqs, &created).await;
    println!("  case took {:?}", started.elapsed());
}

/// Waits (at most `COUNT_LIMIT`) for the tenant's total to reach the `stored` events, then compares
/// every counter with a recount of the table and fails on any difference, naming it.
async fn assert_counters_exact(aws: &Aws, config: &audit_aws::Config, stored: usize) {
    let counters = DynamoCounters::new(aws.dynamo.clone(), &config.counters_table);
    let tenant = tenant_partition(&config.tenant);
    let start = Instant::now();
    let mut counted = 0;
    while start.elapsed() < COUNT_LIMIT {
        counted = counters.get_total(&tenant).await.unwrap().sum;
        if counted >= stored as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "  counted {counted} of {stored} stored events {:?} after the queue drained",
        start.elapsed()
    );
    let (recount, scan) = counters
        .recount(&config.table, Some(&config.tenant), |_| {})
        .await
        .expect("the recount scans both tables");
    let comparison = recount.compare();
    println!(
        "  recount: {} events, {} counters compared, {} differ ({} items scanned)",
        recount.events(),
        comparison.compared,
        comparison.differences.len(),
        scan.scanned
    );
    assert_eq!(
        recount.events(),
        stored as u64,
        "the recount sees every stored event"
    );
    assert!(
        comparison.agrees(),
        "counters differ from the recount: {:?}",
        &comparison.differences[..comparison.differences.len().min(10)]
    );
}
