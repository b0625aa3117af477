//! The client side of a case: posts numbered events through the API and keeps the ledger of which
//! were acknowledged (201, with their ids) and which were attempted but not acknowledged.
//!
//! Every event's description is `<case> #<seq>`, so a stored item can be traced back to the request
//! that carried it, whether or not that request was answered 201.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

/// One request's worth of events, and what became of it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub seqs: Vec<u64>,
    /// The HTTP status, or `None` when no answer came (connection refused or cut).
    pub status: Option<u16>,
    /// The ids of a 201, in the order of `seqs`.
    pub ids: Vec<String>,
    pub started: Instant,
    pub finished: Instant,
}

/// What a load run may do: `events` numbered from `first`, `batch` per request (every tenth request
/// is a single `POST /api/write` instead), `concurrency` requests in flight.
#[derive(Clone)]
pub struct Load {
    pub case: &'static str,
    pub first: u64,
    pub events: u64,
    pub batch: u64,
    pub concurrency: usize,
    /// Requests finished so far, for the case to time its fault by.
    pub done: Arc<AtomicUsize>,
    /// Set to stop sending; requests not yet started are then not sent (nor counted).
    pub stop: Arc<AtomicBool>,
}

impl Load {
    pub fn new(case: &'static str, events: u64, batch: u64) -> Self {
        Self {
            case,
            first: 0,
            events,
            batch,
            concurrency: 4,
            done: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The request plan: `(seqs, is_batch)` per request.
    pub fn requests(&self) -> Vec<(Vec<u64>, bool)> {
        let mut plan = Vec::new();
        let mut seq = self.first;
        let end = self.first + self.events;
        while seq < end {
            let single = plan.len() % 10 == 1;
            let n = if single { 1 } else { self.batch.min(end - seq) };
            plan.push(((seq..seq + n).collect(), !single));
            seq += n;
        }
        plan
    }

    /// Sends every planned request against `url` (until `stop`), and returns the outcomes.
    pub async fn run(self, url: String) -> Vec<Outcome> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let plan = self.requests();
        stream::iter(plan)
            .map(|(seqs, batch)| {
                let (http, url, load) = (http.clone(), url.clone(), self.clone());
                async move {
                    if load.stop.load(Ordering::SeqCst) {
                        return None;
                    }
                    let outcome = load.send(&http, &url, seqs, batch).await;
                    load.done.fetch_add(1, Ordering::SeqCst);
                    Some(outcome)
                }
            })
            .buffer_unordered(self.concurrency)
            .filter_map(|o| async move { o })
            .collect()
            .await
    }

    fn event(&self, seq: u64) -> Value {
        let mut event = json!({
            "event_name": format!("fault.{}.{}", self.case, seq % 7),
            "description": marker(self.case, seq),
        });
        if seq % 3 == 1 {
            event["customer_id"] = json!(seq % 13);
        }
        event
    }

    async fn send(
        &self,
        http: &reqwest::Client,
        url: &str,
        seqs: Vec<u64>,
        batch: bool,
    ) -> Outcome {
        let (path, body) = if batch {
            let events: Vec<Value> = seqs.iter().map(|&s| self.event(s)).collect();
            ("/api/write/batch", Value::Array(events))
        } else {
            ("/api/write", self.event(seqs[0]))
        };
        let started = Instant::now();
        let answer = http.post(format!("{url}{path}")).json(&body).send().await;
        let (status, ids) = match answer {
            Err(_) => (None, Vec::new()),
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    // An answer cut before its body ends acknowledges nothing the client can name.
                    Err(_) => (None, Vec::new()),
                    Ok(text) if status == 201 => {
                        let body: Value = serde_json::from_str(&text).expect("a 201 is JSON");
                        (Some(status), self.acknowledged_ids(&body, &seqs, batch))
                    }
                    Ok(_) => (Some(status), Vec::new()),
                }
            }
        };
        Outcome {
            seqs,
            status,
            ids,
            started,
            finished: Instant::now(),
        }
    }

    /// The ids of a 201, checked against the events the request carried.
    fn acknowledged_ids(&self, body: &Value, seqs: &[u64], batch: bool) -> Vec<String> {
        let logs: Vec<&Value> = if batch {
            body["logs"]
                .as_array()
                .expect("a batch 201 has logs")
                .iter()
                .collect()
        } else {
            vec![&body["log"]]
        };
        assert_eq!(
            logs.len(),
            seqs.len(),
            "a 201 acknowledges every event: {body}"
        );
        logs.iter()
            .zip(seqs)
            .map(|(log, &seq)| {
                assert_eq!(log["description"], marker(self.case, seq), "{body}");
                log["id"].as_str().expect("an id").to_owned()
            })
            .collect()
    }
}

pub fn marker(case: &str, seq: u64) -> String {
    format!("{case} #{seq}")
}

/// The sequence number in a stored description, if it is one of this case's.
pub fn seq_of(case: &str, description: &str) -> Option<u64> {
    description
        .strip_prefix(case)?
        .strip_prefix(" #")?
        .parse()
        .ok()
}

/// Every outcome of a case, folded into what the check needs.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Events the client tried to send (in requests that were started).
    pub sent: usize,
    /// id → seq of every acknowledged event.
    pub acked: HashMap<String, u64>,
    /// Seqs sent in requests that got no 201: they may or may not be stored, but at most once.
    pub unacked: HashSet<u64>,
    /// Requests by answer: "201", "500", "no answer".
    pub statuses: BTreeMap<String, usize>,
}

impl Ledger {
    pub fn add(&mut self, outcomes: &[Outcome]) {
        for outcome in outcomes {
            self.sent += outcome.seqs.len();
            let key = outcome
                .status
                .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
            *self.statuses.entry(key).or_default() += 1;
            if outcome.status == Some(201) {
                for (id, &seq) in outcome.ids.iter().zip(&outcome.seqs) {
                    let previous = self.acked.insert(id.clone(), seq);
                    assert!(previous.is_none(), "one id acknowledged twice: {id}");
                }
            } else {
                self.unacked.extend(&outcome.seqs);
            }
        }
    }
}
