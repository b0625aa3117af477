//! After the load: waits for the queue to drain, scans the table for this run's events, and tallies
//! what was lost (acknowledged, not stored) and what was stored twice. Also the latency summary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::client::marker_prefix;

/// Where the events go: the table to scan and, when known, the queue to watch.
pub struct Store {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    pub queue_url: Option<String>,
}

/// The run's events as stored: event id -> sequence number, from each item's description.
pub type Stored = Vec<(String, u64)>;

impl Store {
    /// Messages still in the queue (visible or in flight), or `None` when the queue is unknown.
    async fn in_queue(&self) -> anyhow::Result<Option<u64>> {
        let Some(url) = &self.queue_url else {
            return Ok(None);
        };
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await?
            .attributes
            .unwrap_or_default();
        Ok(Some(
            attributes
                .values()
                .filter_map(|v| v.parse::<u64>().ok())
                .sum(),
        ))
    }

    /// Every event item of the run, found by its `load-<run>-<seq>` description.
    pub async fn scan(&self, run: &str) -> anyhow::Result<Stored> {
        let prefix = marker_prefix(run);
        let mut stored = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamo
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :e AND begins_with(#d, :run)")
                .expression_attribute_names("#d", "description")
                .expression_attribute_values(":e", AttributeValue::S("E".into()))
                .expression_attribute_values(":run", AttributeValue::S(prefix.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                let seq = text("description")
                    .and_then(|d| d.strip_prefix(prefix.as_str())?.parse::<u64>().ok());
                if let (Some(id), Some(seq)) = (text("id"), seq) {
                    stored.push((id, seq));
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(stored);
            }
        }
    }

    /// Scans until every acknowledged id is stored and the queue is empty, or `limit` passes.
    pub async fn wait_for_drain(
        &self,
        run: &str,
        acked: &HashSet<&str>,
        limit: Duration,
    ) -> anyhow::Result<Stored> {
        let started = Instant::now();
        loop {
            let queued = self.in_queue().await?;
            let stored = self.scan(run).await?;
            let present: HashSet<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
            let missing = acked.iter().filter(|id| !present.contains(**id)).count();
            let drained = missing == 0 && queued.unwrap_or(0) == 0;
            if drained || started.elapsed() > limit {
                return Ok(stored);
            }
            println!(
                "draining: {} of {} acknowledged events stored, {} messages in the queue",
                acked.len() - missing,
                acked.len(),
                queued.map_or("?".to_owned(), |q| q.to_string()),
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Lost, duplicated and unacknowledged-but-stored events.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub acknowledged: usize,
    pub stored: usize,
    pub lost: Vec<String>,
    /// Sequence numbers stored under more than one id, with how many extra copies.
    pub duplicated: BTreeMap<u64, usize>,
    /// Stored events whose request got no 201 (a timeout, say): not a fault, shown for the record.
    pub unacknowledged: usize,
}

/// `acked` holds (id, seq) per 201 answer; an idempotent retry repeats a pair.
pub fn tally(acked: &[(String, u64)], stored: &Stored) -> Tally {
    let acked_seqs: HashSet<u64> = acked.iter().map(|(_, s)| *s).collect();
    let present: HashSet<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    let mut lost: Vec<String> = acked
        .iter()
        .map(|(id, _)| id.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .filter(|id| !present.contains(id))
        .map(str::to_owned)
        .collect();
    lost.sort();
    let mut copies: HashMap<u64, usize> = HashMap::new();
    for (_, seq) in stored {
        *copies.entry(*seq).or_default() += 1;
    }
    Tally {
        acknowledged: acked_seqs.len(),
        stored: stored.len(),
        lost,
        duplicated: copies
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(seq, n)| (*seq, n - 1))
            .collect(),
        unacknowledged: copies.keys().filter(|s| !acked_seqs.contains(s)).count(),
    }
}

/// `p50 p99 max` of a set of latencies, in milliseconds.
pub fn summary(latencies: &mut [Duration]) -> String {
    if latencies.is_empty() {
        return "no samples".to_owned();
    }
    latencies.sort();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    format!(
        "n={:<6} p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        latencies.len(),
        at(0.50),
        at(0.99),
        at(1.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, u64)]) -> Vec<(String, u64)> {
        items.iter().map(|(id, s)| (id.to_string(), *s)).collect()
    }

    #[test]
    fn a_clean_run_has_nothing_lost_or_duplicated() {
        let acked = pairs(&[("a", 0), ("b", 1), ("b", 1)]);
        let tally = tally(&acked, &pairs(&[("a", 0), ("b", 1)]));
        assert_eq!(tally.acknowledged, 2);
        assert!(tally.lost.is_empty() && tally.duplicated.is_empty());
    }

    #[test]
    fn missing_ids_are_lost_and_second_copies_are_duplicates() {
        let acked = pairs(&[("a", 0), ("b", 1), ("c", 2)]);
        let stored = pairs(&[("a", 0), ("c", 2), ("x", 2), ("u", 9)]);
        let tally = tally(&acked, &stored);
        assert_eq!(tally.lost, vec!["b".to_owned()]);
        assert_eq!(tally.duplicated, BTreeMap::from([(2, 1)]));
        assert_eq!(tally.unacknowledged, 1);
    }

    #[test]
    fn percentiles_pick_ranks() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let text = summary(&mut samples);
        assert!(text.contains("p50    50.0 ms"), "{text}");
        assert!(text.contains("p99    99.0 ms"), "{text}");
        assert!(text.contains("max   100.0 ms"), "{text}");
    }
}
