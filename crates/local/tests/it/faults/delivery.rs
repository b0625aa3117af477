//! Cases 4 and 5: SQS delivers written messages again, and poison messages ride among good ones.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use audit_domain::envelope;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::check::assert_exactly_once;
use super::http_faults::FaultProxy;
use super::load::{Ledger, Load};
use super::runner::Runner;
use super::{aws, common, wait_until, Aws, VISIBILITY};

/// Every item of the table, in key order, for comparing before and after.
async fn snapshot(aws: &Aws, table: &str) -> BTreeMap<String, String> {
    common::scan(&aws.dynamo, table)
        .await
        .into_iter()
        .map(|item| {
            let key = format!("{:?}|{:?}", item.get("pk"), item.get("sk"));
            let sorted: BTreeMap<_, _> = item.into_iter().collect();
            (key, format!("{sorted:?}"))
        })
        .collect()
}

/// Case 4: SQS delivers already-written messages again, twice each, after the queue has drained.
#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn redelivered_messages_store_nothing_twice() {
    let started = Instant::now();
    let aws = aws().await;
    let config = common::test_config();
    let proxy = FaultProxy::start(&common::endpoint(), 0.0, 0).await;
    let runner = Runner::start(&config, &proxy.url(), VISIBILITY, "redelivery").await;

    let mut ledger = Ledger::default();
    ledger.add(
        &Load::new("redelivery", 1000, 20)
            .run(runner.url.clone())
            .await,
    );
    aws.drained(&config).await;
    assert_exactly_once("redelivery", &aws.dynamo, &config.table, &ledger).await;
    let before = snapshot(&aws, &config.table).await;

    // The very bodies SQS accepted from the write function, each sent twice in a row so that the
    // copies also meet within one receive batch.
    let bodies = proxy.sent_bodies();
    let carried: usize = bodies
        .iter()
        .map(|b| envelope::unpack(b).expect("a sent body decodes").len())
        .sum();
    assert!(
        carried >= ledger.acked.len(),
        "the proxy saw every sent body"
    );
    for group in bodies.chunks(5) {
        let entries = group
            .iter()
            .flat_map(|body| [body, body])
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .unwrap()
            })
            .collect();
        let output = aws
            .sqs
            .send_message_batch()
            .queue_url(&config.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(output.failed.is_empty(), "{:?}", output.failed);
    }
    println!(
        "  delivered {} messages carrying {carried} events twice more",
        bodies.len()
    );
    aws.drained(&config).await;
    assert_exactly_once("redelivery", &aws.dynamo, &config.table, &ledger).await;
    let after = snapshot(&aws, &config.table).await;
    assert_eq!(before.len(), after.len(), "redelivery added items");
    assert!(before == after, "redelivery changed stored items");
    aws.finish(&config, runner, started).await;
}

/// Case 5: poison messages among a few thousand good events go to the DLQ; the rest are stored.
#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn poison_messages_reach_the_dlq_and_every_good_event_is_stored() {
    let started = Instant::now();
    let aws = aws().await;
    let config = common::test_config();
    let runner = Runner::start(&config, &common::endpoint(), VISIBILITY, "poison").await;
    let poisons = [
        "this is not an event",
        r#"{"v":1,"events":[]}"#,
        r#"{"v":2,"events":[{"event_name":"from a future version"}]}"#,
        r#"{"v":1,"events":[{"event_name":""}]}"#,
    ];
    let send = |body: &'static str| {
        let (sqs, queue) = (aws.sqs.clone(), config.queue_url.clone());
        async move {
            sqs.send_message()
                .queue_url(queue)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    };

    let load = Load::new("poison", 2000, 20);
    let half = load.requests().len() / 2;
    let done = load.done.clone();
    let sending = tokio::spawn(load.run(runner.url.clone()));
    send(poisons[0]).await;
    send(poisons[1]).await;
    wait_until(Duration::from_secs(60), || {
        done.load(Ordering::SeqCst) >= half
    })
    .await;
    send(poisons[2]).await;
    send(poisons[3]).await;
    let mut ledger = Ledger::default();
    ledger.add(&sending.await.unwrap());
    // A poison message leaves the queue on its sixth receive: five failures, two seconds apart.
    aws.drained(&config).await;

    let dlq = aws
        .dead_letter_queue(&config)
        .await
        .expect("the case's DLQ exists");
    let mut dead: Vec<String> = Vec::new();
    let start = Instant::now();
    while dead.len() < poisons.len() && start.elapsed() < Duration::from_secs(30) {
        let output = aws
            .sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        dead.extend(
            output
                .messages
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.body),
        );
    }
    dead.sort();
    let mut expected: Vec<String> = poisons.iter().map(|p| p.to_string()).collect();
    expected.sort();
    println!("  {} poison messages in the DLQ", dead.len());
    assert_eq!(dead, expected, "exactly the poison messages reach the DLQ");
    assert_exactly_once("poison", &aws.dynamo, &config.table, &ledger).await;
    aws.finish(&config, runner, started).await;
}
