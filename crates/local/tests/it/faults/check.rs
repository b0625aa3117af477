//! The promise every case checks: an event that got a 201 is stored exactly once. Also waits for a
//! queue to drain, since "stored" only means something once nothing is left to deliver.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::common::{self, queue_depth};
use super::load::{seq_of, Ledger};

/// How many event items (not catalogue entries) the table holds.
pub async fn count_events(dynamo: &aws_sdk_dynamodb::Client, table: &str) -> usize {
    let mut count = 0;
    let mut start = None;
    // A scan page is at most 1 MB; a few thousand small items take a handful of pages.
    for _ in 0..1000 {
        let page = dynamo
            .scan()
            .table_name(table)
            .select(Select::Count)
            .filter_expression("sk = :e")
            .expression_attribute_values(":e", AttributeValue::S("E".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("count scan");
        count += page.count as usize;
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    count
}

/// Waits until the queue is empty and the stored count has stopped changing, or `limit` passes.
/// Returns the stored count.
pub async fn wait_drained(
    sqs: &aws_sdk_sqs::Client,
    dynamo: &aws_sdk_dynamodb::Client,
    queue_url: &str,
    table: &str,
    limit: Duration,
) -> usize {
    let start = Instant::now();
    let mut last = usize::MAX;
    let mut quiet = 0;
    while start.elapsed() < limit {
        let (visible, in_flight, delayed) = queue_depth(sqs, queue_url).await;
        let stored = count_events(dynamo, table).await;
        if visible + in_flight + delayed == 0 && stored == last {
            quiet += 1;
            // Two quiet readings apart: no batch was mid-write when the queue looked empty.
            if quiet >= 2 {
                println!("  drained after {:?} more", start.elapsed());
                return stored;
            }
        } else {
            quiet = 0;
        }
        last = stored;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (visible, in_flight, delayed) = queue_depth(sqs, queue_url).await;
    println!(
        "  not drained after {limit:?}: {visible} visible, {in_flight} in flight, {delayed} delayed"
    );
    count_events(dynamo, table).await
}

/// What the comparison found.
#[derive(Debug, Default)]
pub struct Tally {
    pub sent: usize,
    pub acked: usize,
    pub stored: usize,
    /// Stored events whose request got no 201 (the queue took them before the answer was lost).
    pub stored_unacked: usize,
    pub lost: Vec<String>,
    /// Ids with more than one item, and seqs stored under more than one id.
    pub duplicated: Vec<String>,
    /// Stored events no request of this case carried, or with a broken key.
    pub unexpected: Vec<String>,
}

/// Scans the table and compares it with the ledger. Prints the case's line, and fails it if any
/// acknowledged event is missing, anything is stored twice, or anything is stored that was never
/// sent.
pub async fn assert_exactly_once(
    case: &str,
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    ledger: &Ledger,
) -> Tally {
    let records = common::event_records(dynamo, table).await;
    let mut tally = Tally {
        sent: ledger.sent,
        acked: ledger.acked.len(),
        stored: records.len(),
        ..Tally::default()
    };
    let mut items_per_id: HashMap<&str, usize> = HashMap::new();
    let mut ids_per_seq: HashMap<u64, BTreeSet<&str>> = HashMap::new();
    for record in &records {
        *items_per_id.entry(record.id.as_str()).or_default() += 1;
        if record.pk != format!("E#{}#{}", record.tenant, record.id) {
            tally
                .unexpected
                .push(format!("{} under key {}", record.id, record.pk));
        }
        let Some(seq) = seq_of(case, &record.description) else {
            tally
                .unexpected
                .push(format!("{}: {:?}", record.id, record.description));
            continue;
        };
        ids_per_seq.entry(seq).or_default().insert(&record.id);
        match ledger.acked.get(&record.id) {
            Some(&acked_seq) if acked_seq == seq => {}
            Some(&acked_seq) => tally.unexpected.push(format!(
                "{} holds #{seq} but was acknowledged for #{acked_seq}",
                record.id
            )),
            None if ledger.unacked.contains(&seq) => tally.stored_unacked += 1,
            None => tally
                .unexpected
                .push(format!("{} (#{seq}) was never sent", record.id)),
        }
    }
    for (id, &seq) in &ledger.acked {
        if !items_per_id.contains_key(id.as_str()) {
            tally.lost.push(format!("{id} (#{seq})"));
        }
    }
    for (id, &n) in &items_per_id {
        if n > 1 {
            tally.duplicated.push(format!("{id}: {n} items"));
        }
    }
    for (seq, ids) in &ids_per_seq {
        if ids.len() > 1 {
            tally
                .duplicated
                .push(format!("#{seq} stored under {} ids: {ids:?}", ids.len()));
        }
    }
    tally.lost.sort();
    tally.duplicated.sort();
    println!(
        "  {case}: sent {} events, acked {}, stored {} ({} of them unacknowledged), lost {}, \
         duplicated {}, unexpected {}; requests by answer {:?}",
        tally.sent,
        tally.acked,
        tally.stored,
        tally.stored_unacked,
        tally.lost.len(),
        tally.duplicated.len(),
        tally.unexpected.len(),
        ledger.statuses,
    );
    let head = |v: &Vec<String>| v.iter().take(10).cloned().collect::<Vec<_>>();
    assert!(
        tally.lost.is_empty(),
        "{case}: acknowledged but not stored: {:?}",
        head(&tally.lost)
    );
    assert!(
        tally.duplicated.is_empty(),
        "{case}: stored more than once: {:?}",
        head(&tally.duplicated)
    );
    assert!(
        tally.unexpected.is_empty(),
        "{case}: stored but never sent: {:?}",
        head(&tally.unexpected)
    );
    assert!(tally.acked > 0, "{case}: nothing was acknowledged");
    tally
}
