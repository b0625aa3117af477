//! One load client: a bounded loop of single writes, idempotent retries, batch writes and reads,
//! recording every acknowledged id and every latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const NAMES: [&str; 4] = [
    "load.user.signed_in",
    "load.key.rotated",
    "load.invoice.paid",
    "Load.Mixed.Case",
];
const SORTS: [&str; 4] = ["-created_at", "created_at", "event_name", "-event_name"];

/// What every client shares: the target, the event budget and the live counters.
pub struct Shared {
    pub http: reqwest::Client,
    pub url: String,
    /// Marks this run's events (`load-<run>-<seq>`), so that verification finds them among others.
    pub run: String,
    pub batch: u64,
    pub deadline: Instant,
    pub budget: u64,
    /// Events handed out so far; each has a unique sequence number below `budget`.
    pub reserved: AtomicU64,
    pub acked: AtomicU64,
    pub errors: AtomicU64,
    pub reads: AtomicU64,
}

impl Shared {
    /// Takes up to `n` sequence numbers from the budget: the first one and how many.
    fn reserve(&self, n: u64) -> Option<(u64, u64)> {
        let mut current = self.reserved.load(Ordering::SeqCst);
        loop {
            let granted = n.min(self.budget.saturating_sub(current));
            if granted == 0 {
                return None;
            }
            match self.reserved.compare_exchange(
                current,
                current + granted,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Some((current, granted)),
                Err(actual) => current = actual,
            }
        }
    }

    fn event(&self, seq: u64) -> Value {
        let mut event = json!({
            "event_name": NAMES[(seq % 4) as usize],
            "description": marker(&self.run, seq),
            "metadata": {"run": self.run, "seq": seq},
        });
        if !seq.is_multiple_of(3) {
            event["customer_id"] = json!(seq % 20);
        }
        event
    }
}

/// The description that identifies one logical event of a run.
pub fn marker(run: &str, seq: u64) -> String {
    format!("{}{seq}", marker_prefix(run))
}

/// What every marker of a run starts with.
pub fn marker_prefix(run: &str) -> String {
    format!("load-{run}-")
}

/// What one client saw.
#[derive(Default)]
pub struct Outcome {
    /// (id, sequence number) of every acknowledged event.
    pub acked: Vec<(String, u64)>,
    pub single_latency: Vec<Duration>,
    pub batch_latency: Vec<Duration>,
    pub read_latency: Vec<Duration>,
    /// Retries with the same `Idempotency-Key` that got a different id.
    pub idempotency_mismatches: u64,
    /// Status code (0 for a transport error) -> count, for every failed request.
    pub failures: std::collections::BTreeMap<u16, u64>,
}

impl Outcome {
    fn fail(&mut self, shared: &Shared, status: u16) {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        *self.failures.entry(status).or_default() += 1;
    }
}

/// POSTs `body` and returns the latency and the ids of the answer, or the failing status.
async fn post(
    shared: &Shared,
    path: &str,
    body: &Value,
    key: Option<&str>,
) -> (Duration, Result<Vec<String>, u16>) {
    let started = Instant::now();
    let mut request = shared.http.post(format!("{}{path}", shared.url)).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let result = match request.send().await {
        Ok(response) if response.status() == 201 => match response.json::<Value>().await {
            Ok(answer) => Ok(ids_of(&answer)),
            Err(_) => Err(201),
        },
        Ok(response) => Err(response.status().as_u16()),
        Err(_) => Err(0),
    };
    (started.elapsed(), result)
}

fn ids_of(answer: &Value) -> Vec<String> {
    let logs = match (&answer["log"], answer["logs"].as_array()) {
        (Value::Object(_), _) => vec![&answer["log"]],
        (_, Some(logs)) => logs.iter().collect(),
        _ => Vec::new(),
    };
    logs.iter()
        .filter_map(|log| log["id"].as_str().map(str::to_owned))
        .collect()
}

/// Runs until the deadline passes or the budget is spent.
pub async fn run(shared: Arc<Shared>, client: u64) -> Outcome {
    let mut outcome = Outcome::default();
    let mut step: u64 = client;
    while Instant::now() < shared.deadline {
        step += 1;
        let done = match step % 8 {
            0..=2 => single(&shared, &mut outcome, false).await,
            3 => single(&shared, &mut outcome, true).await,
            4 | 5 => batch(&shared, &mut outcome).await,
            _ => {
                read(&shared, &mut outcome, step).await;
                false
            }
        };
        if done {
            break;
        }
    }
    outcome
}

/// One event; with `retry`, sent twice with the same `Idempotency-Key`, as a client retrying a
/// timed-out request would. Returns true when the budget is spent.
async fn single(shared: &Shared, outcome: &mut Outcome, retry: bool) -> bool {
    let Some((seq, _)) = shared.reserve(1) else {
        return true;
    };
    let body = shared.event(seq);
    let key = retry.then(|| format!("{}-{seq}", shared.run));
    let mut first_id: Option<String> = None;
    for _ in 0..if retry { 2 } else { 1 } {
        let (latency, result) = post(shared, "/api/write", &body, key.as_deref()).await;
        outcome.single_latency.push(latency);
        match result {
            Ok(ids) if ids.len() == 1 => {
                let id = ids.into_iter().next().unwrap_or_default();
                match &first_id {
                    None => {
                        shared.acked.fetch_add(1, Ordering::Relaxed);
                        first_id = Some(id.clone());
                    }
                    Some(first) if *first != id => outcome.idempotency_mismatches += 1,
                    Some(_) => {}
                }
                outcome.acked.push((id, seq));
            }
            Ok(_) => outcome.fail(shared, 201),
            Err(status) => outcome.fail(shared, status),
        }
    }
    false
}

/// One batch of up to `batch` events. Returns true when the budget is spent.
async fn batch(shared: &Shared, outcome: &mut Outcome) -> bool {
    let Some((first, count)) = shared.reserve(shared.batch) else {
        return true;
    };
    let events: Vec<Value> = (first..first + count).map(|s| shared.event(s)).collect();
    let (latency, result) = post(shared, "/api/write/batch", &json!(events), None).await;
    outcome.batch_latency.push(latency);
    match result {
        Ok(ids) if ids.len() as u64 == count => {
            shared.acked.fetch_add(count, Ordering::Relaxed);
            outcome.acked.extend(ids.into_iter().zip(first..));
        }
        Ok(_) => outcome.fail(shared, 201),
        Err(status) => outcome.fail(shared, status),
    }
    false
}

/// One page of `GET /api/read`, with the filters and sort varied by `step`.
async fn read(shared: &Shared, outcome: &mut Outcome, step: u64) {
    let mut query = vec![("sort", SORTS[(step / 8 % 4) as usize].to_owned())];
    match step / 32 % 3 {
        0 => query.push(("customer_id", (step % 20).to_string())),
        1 => query.push(("event_name", "load.".to_owned())),
        _ => {}
    }
    let started = Instant::now();
    let response = shared
        .http
        .get(format!("{}/api/read", shared.url))
        .query(&query)
        .send()
        .await;
    let ok = match response {
        Ok(response) if response.status() == 200 => response.json::<Value>().await.is_ok(),
        Ok(response) => {
            outcome.fail(shared, response.status().as_u16());
            return;
        }
        Err(_) => false,
    };
    if ok {
        outcome.read_latency.push(started.elapsed());
        shared.reads.fetch_add(1, Ordering::Relaxed);
    } else {
        outcome.fail(shared, 0);
    }
}
