//! Case 3: DynamoDB throttles, fails and leaves items unprocessed on a share of batch writes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_aws::DynamoStore;
use audit_drain::Drain;
use audit_local::poller::Poller;

use super::check::assert_exactly_once;
use super::http_faults::FaultProxy;
use super::load::{Ledger, Load};
use super::runner::Runner;
use super::unprocessed::Unprocessing;
use super::{aws, common, seed, VISIBILITY};

/// Case 3: throttling, 500s and unprocessed items on ~30% of DynamoDB batch writes.
///
/// Two consumers drain one queue, as concurrent Lambda invocations do: the runner, whose batch
/// writes go through a proxy that answers 30% of them with throttling or a 500 (half of those on
/// the first attempt only, which the SDK's own retry covers, half on all three, which only the
/// drain's retries can cover), and in this process the runner's own poller and drain over the same
/// proxy and a store that also leaves part of 30% of batches unprocessed.
#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn throttling_errors_and_unprocessed_items_lose_nothing_acknowledged() {
    let started = Instant::now();
    let seed = seed();
    let aws = aws().await;
    let config = common::test_config();
    let proxy = FaultProxy::start(&common::endpoint(), 0.3, seed).await;
    let runner = Runner::start(&config, &proxy.url(), VISIBILITY, "throttle").await;

    let sdk = audit_infra::emulator_sdk_config(&proxy.url()).await;
    let store = Unprocessing::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table),
        0.3,
        seed.wrapping_add(1),
    );
    let unprocessed = store.stats.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poller = Poller {
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url: config.queue_url.clone(),
        queue_arn: "arn:aws:sqs:us-east-1:123456789012:faults".into(),
        region: "us-east-1".into(),
        handler: Arc::new(Drain::new(store, config.shards)),
        wait: Duration::from_secs(1),
    };
    let polling = tokio::spawn(poller.run(stopped));

    let mut ledger = Ledger::default();
    ledger.add(
        &Load::new("throttle", 2000, 20)
            .run(runner.url.clone())
            .await,
    );
    aws.drained(&config).await;
    stop.send_replace(true);
    polling.await.unwrap();

    let batch_writes = proxy.stats.batch_writes.load(Ordering::SeqCst);
    let throttled = proxy.stats.throttled.load(Ordering::SeqCst);
    let internal = proxy.stats.internal_errors.load(Ordering::SeqCst);
    let past_sdk = proxy.stats.last_attempt_faults.load(Ordering::SeqCst);
    // The drain's own retries, once the SDK's three attempts all met a fault.
    let drain_retries = runner.log_lines_with("store write failed, will retry");
    let calls = unprocessed.calls.load(Ordering::SeqCst);
    let partial = unprocessed.partial_calls.load(Ordering::SeqCst);
    let handed_back = unprocessed.records_handed_back.load(Ordering::SeqCst);
    println!(
        "  proxy: {batch_writes} BatchWriteItem calls, {throttled} throttled, {internal} answered \
         500, {past_sdk} of them on the SDK's last attempt"
    );
    println!(
        "  runner's drain retried {drain_retries} calls the SDK gave up on; in-process drain: \
         {calls} store calls, {partial} left {handed_back} records unprocessed"
    );
    assert_exactly_once("throttle", &aws.dynamo, &config.table, &ledger).await;
    assert!(
        throttled > 0 && internal > 0,
        "the proxy injected no faults"
    );
    assert!(
        past_sdk > 0 && drain_retries > 0,
        "no fault outlasted the SDK's retries"
    );
    assert!(
        partial > 0,
        "the in-process drain never saw unprocessed items"
    );
    aws.finish(&config, runner, started).await;
}
