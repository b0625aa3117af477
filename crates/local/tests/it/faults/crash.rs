//! Cases 1 and 2: the runner crashes, or the emulator becomes unreachable, mid-drain.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::check::{assert_exactly_once, count_events};
use super::common::queue_depth;
use super::load::{Ledger, Load};
use super::outage::OutageProxy;
use super::runner::Runner;
use super::{aws, common, upstream_addr, wait_until, VISIBILITY};

/// Case 1: SIGKILL while messages are in flight, restart on the same table and queue.
#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn a_runner_killed_mid_drain_then_restarted_stores_each_acknowledged_event_once() {
    let started = Instant::now();
    let aws = aws().await;
    let config = common::test_config();
    let mut runner = Runner::start(&config, &common::endpoint(), VISIBILITY, "kill").await;

    let first = Load::new("kill", 1500, 20);
    let half = first.requests().len() / 2;
    let (done, stop) = (first.done.clone(), first.stop.clone());
    let sending = tokio::spawn(first.run(runner.url.clone()));
    // Kill once half the requests are answered and the drain holds received, undeleted messages.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut depth = (0, 0, 0);
    while Instant::now() < deadline && !sending.is_finished() {
        if done.load(Ordering::SeqCst) >= half {
            depth = queue_depth(&aws.sqs, &config.queue_url).await;
            if depth.1 > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runner.kill();
    stop.store(true, Ordering::SeqCst);
    let mut ledger = Ledger::default();
    ledger.add(&sending.await.unwrap());
    let stored_at_kill = count_events(&aws.dynamo, &config.table).await;
    println!(
        "  killed with {} messages visible and {} in flight; {stored_at_kill} of {} acknowledged \
         events stored by then",
        depth.0,
        depth.1,
        ledger.acked.len()
    );
    assert!(
        depth.1 > 0,
        "the kill should land while a batch is in flight"
    );

    let runner = Runner::restart(&config, &common::endpoint(), VISIBILITY, "kill").await;
    let second = Load {
        first: 1500,
        events: 1000,
        ..Load::new("kill", 0, 20)
    };
    ledger.add(&second.run(runner.url.clone()).await);
    aws.drained(&config).await;
    assert_exactly_once("kill", &aws.dynamo, &config.table, &ledger).await;
    aws.finish(&config, runner, started).await;
}

/// Case 2: the emulator unreachable for a few seconds while events are written and drained.
///
/// A TCP proxy between the runner and moto refuses connections and cuts open ones for five seconds.
/// This shows that writes answer 500 when SQS cannot be reached, and that the drain's failed
/// receives, writes and deletes lose nothing and store nothing twice. It cannot show a real
/// restart's state loss (moto keeps its state in memory, real AWS keeps it across an outage), nor
/// an outage where packets vanish without a refusal (a black hole).
#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn an_emulator_outage_answers_500_and_loses_nothing_acknowledged() {
    const OUTAGE: Duration = Duration::from_secs(5);
    let started = Instant::now();
    let aws = aws().await;
    let config = common::test_config();
    let proxy = OutageProxy::start(upstream_addr()).await;
    let runner = Runner::start(&config, &proxy.url(), VISIBILITY, "outage").await;

    let load = Load::new("outage", 1500, 10);
    let quarter = load.requests().len() / 4;
    let done = load.done.clone();
    let sending = tokio::spawn(load.run(runner.url.clone()));
    wait_until(Duration::from_secs(60), || {
        done.load(Ordering::SeqCst) >= quarter
    })
    .await;
    proxy.down();
    let down_at = Instant::now();
    tokio::time::sleep(OUTAGE).await;
    proxy.up();
    let up_at = Instant::now();
    let outcomes = sending.await.unwrap();

    let during: Vec<_> = outcomes
        .iter()
        .filter(|o| o.started >= down_at && o.finished <= up_at)
        .collect();
    println!(
        "  {} requests began and ended inside the {OUTAGE:?} outage",
        during.len()
    );
    assert!(!during.is_empty(), "some writes should meet the outage");
    for outcome in &during {
        assert_eq!(
            outcome.status,
            Some(500),
            "a write while SQS is unreachable"
        );
    }
    for outcome in &outcomes {
        assert!(
            matches!(outcome.status, Some(201) | Some(500)),
            "only 201 or 500: {outcome:?}"
        );
    }
    let mut ledger = Ledger::default();
    ledger.add(&outcomes);
    aws.drained(&config).await;
    assert_exactly_once("outage", &aws.dynamo, &config.table, &ledger).await;
    aws.finish(&config, runner, started).await;
}
