//! Case: the runner SIGKILLed while it seals. After a restart, the log is a well-formed tree, each
//! stored event is exactly one leaf (none missing, none twice), and a checkpoint covers them all.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use audit_aws::DynamoLog;
use audit_domain::seal::audit::{check_events, check_tree, Finding, StoredVersion};
use audit_domain::seal::LogStore as _;
use audit_domain::Tenant;

use super::load::Load;
use super::runner::Runner;
use super::{aws, common, VISIBILITY};
use crate::sealed::{snapshot, wait_for_checkpoint};

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn a_runner_killed_while_it_seals_leaves_each_event_one_leaf_after_a_restart() {
    let started = Instant::now();
    let aws = aws().await;
    let config = common::test_config();
    let mut runner = Runner::start(&config, &common::endpoint(), VISIBILITY, "seal-kill").await;
    let log = DynamoLog::new(aws.dynamo.clone(), &config.log_table);
    let tenant = Tenant::default();

    let load = Load::new("seal-kill", 1500, 20);
    let sending = tokio::spawn(load.run(runner.url.clone()));
    // Kill once the log has leaves, well before it has them all.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut at_kill = 0;
    while Instant::now() < deadline {
        at_kill = log.head(&tenant).await.unwrap().map_or(0, |h| h.size());
        if at_kill >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    runner.kill();
    let _ = sending.await;
    println!("  killed with {at_kill} leaves in the log");
    assert!(
        at_kill > 0,
        "the kill should land while the seal is appending"
    );

    let runner = Runner::restart(&config, &common::endpoint(), VISIBILITY, "seal-kill").await;
    aws.drained(&config).await;
    let events = crate::common::event_records(&aws.dynamo, &config.table).await;
    let stored = events.len() as u64;
    assert!(stored > at_kill, "events stored after the kill too");
    // Wait for the log to stop growing (10 s without a new leaf), whole, and for its checkpoint.
    let (mut size, mut since) = (0, Instant::now());
    let deadline = Instant::now() + Duration::from_secs(240);
    let (snap, hashes) = loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let snap = snapshot(&log, &tenant).await;
        let now = snap.head.map_or(0, |(n, _)| n);
        if now != size {
            (size, since) = (now, Instant::now());
        }
        let (hashes, findings) = check_tree(&snap.leaves, &snap.tiles, snap.head);
        let settled = findings.is_empty() && since.elapsed() > Duration::from_secs(10);
        if settled || Instant::now() > deadline {
            assert_eq!(findings, [], "the tree");
            break (snap, hashes);
        }
    };
    wait_for_checkpoint(&log, size, Duration::from_secs(60)).await;
    let mut per_id: BTreeMap<&str, usize> = BTreeMap::new();
    for leaf in &snap.leaves {
        *per_id.entry(leaf.id.as_str()).or_default() += 1;
    }
    assert!(per_id.values().all(|&n| n == 1), "no leaf twice");
    let versions: Vec<StoredVersion> = events
        .iter()
        .map(|record| StoredVersion {
            record,
            settled: true,
        })
        .collect();
    let findings = check_events(&versions, &snap.leaves);
    println!(
        "  {stored} events stored, {} leaves, {} not in the log: {findings:?}",
        hashes.len(),
        findings.len()
    );
    // Nothing altered, deleted or foreign; an event missing from the log can only be one the
    // emulator numbered below an earlier batch's record (README, "Known limits": the seal, like the
    // count function, skips records at or before its checkpoint).
    assert!(
        findings
            .iter()
            .all(|f| matches!(f, Finding::Inserted { .. })),
        "{findings:?}"
    );
    assert!(findings.len() * 100 <= events.len(), "{findings:?}");
    aws.finish(&config, runner, started).await;
}
