//! `audit-load`: a bounded load test. It starts its own runner in-process (with a table and queue
//! of its own on the emulator) or targets `--url`, runs concurrent clients that write single events,
//! idempotent retries and batches and read pages, then waits for the queue to drain and proves that
//! every acknowledged event is stored exactly once. It exits non-zero when one is lost or doubled.

mod client;
mod verify;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use audit_local::{Running, Settings};

const USAGE: &str = "usage: audit-load [--url URL --table NAME [--api-key KEY]] [--clients 8] \
[--duration 20] [--events 5000] [--batch 10] [--drain-timeout 60]";

struct Args {
    url: Option<String>,
    table: Option<String>,
    /// Sent as `Authorization: Bearer` to a `--url` that requires keys (default `AUDIT_API_KEY`).
    api_key: Option<String>,
    clients: u64,
    duration: u64,
    events: u64,
    batch: u64,
    drain_timeout: u64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        url: None,
        table: None,
        api_key: std::env::var("AUDIT_API_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        clients: 8,
        duration: 20,
        events: 5000,
        batch: 10,
        drain_timeout: 60,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = given
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("{flag} must be a positive number"))
        };
        match flag.as_str() {
            "--url" => args.url = Some(value.trim_end_matches('/').to_owned()),
            "--table" => args.table = Some(value),
            "--api-key" => args.api_key = Some(value),
            "--clients" => args.clients = number()?.min(256),
            "--duration" => args.duration = number()?.min(3600),
            "--events" => args.events = number()?,
            "--batch" => args.batch = number()?.min(100),
            "--drain-timeout" => args.drain_timeout = number()?,
            _ => bail!("unknown argument {flag}\n{USAGE}"),
        }
    }
    Ok(args)
}

/// The service under load, and what verification needs to know about it.
struct Target {
    url: String,
    store: verify::Store,
    running: Option<Running>,
}

async fn target(args: &Args, run: &str) -> anyhow::Result<Target> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        bail!("AWS_ENDPOINT_URL is unset: the load test only runs against an emulator (`make load` sets it)");
    }
    let sdk = audit_aws::sdk_config(&audit_aws::SdkSettings::from_env()?).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    if let Some(url) = &args.url {
        let config = audit_aws::Config::from_env()?;
        return Ok(Target {
            url: url.clone(),
            store: verify::Store {
                dynamo,
                sqs,
                table: args.table.clone().unwrap_or(config.table),
                queue_url: None,
            },
            running: None,
        });
    }
    let mut config = audit_aws::Config::from_env()?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    config.table = format!("audit-load-{run}");
    config.auth = audit_aws::config::AuthMode::Optional; // keyless clients act for `default`
    config.queue_url = format!(
        "{}/123456789012/audit-load-{run}",
        endpoint.trim_end_matches('/')
    );
    let running = audit_local::start(Settings {
        config,
        sdk,
        listen: "127.0.0.1:0".parse()?,
        visibility_timeout: Some(5),
        poll_wait: Duration::from_secs(1),
    })
    .await
    .context("could not start the runner; is the emulator running? (`make load` starts it)")?;
    Ok(Target {
        url: format!("http://{}", running.addr),
        store: verify::Store {
            dynamo,
            sqs,
            table: running.table.clone(),
            queue_url: Some(running.queue_url.clone()),
        },
        running: Some(running),
    })
}

/// A client with a timeout, and the API key on every request when there is one.
fn http_client(api_key: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = api_key {
        let mut value: reqwest::header::HeaderValue = format!("Bearer {key}")
            .parse()
            .context("the API key must be visible ASCII")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .default_headers(headers)
        .build()?)
}

/// One line a second until the clients finish.
async fn progress(shared: Arc<client::Shared>) {
    let started = Instant::now();
    let mut last = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let acked = shared.acked.load(Ordering::Relaxed);
        println!(
            "{:>4.0}s  sent {:>6}  acked {:>6}  errors {:>4}  reads {:>5}  {:>6} events/s",
            started.elapsed().as_secs_f64(),
            shared.reserved.load(Ordering::Relaxed),
            acked,
            shared.errors.load(Ordering::Relaxed),
            shared.reads.load(Ordering::Relaxed),
            acked - last,
        );
        last = acked;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    audit_telemetry::init_tracing(audit_aws::Config::from_env()?.log_format);
    let args = parse_args()?;
    let run = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let target = target(&args, &run).await?;
    println!(
        "load: {} clients, at most {} s and {} events (batches of {}), against {} (table {})",
        args.clients, args.duration, args.events, args.batch, target.url, target.store.table
    );

    let started = Instant::now();
    let shared = Arc::new(client::Shared {
        http: http_client(args.api_key.as_deref())?,
        url: target.url.clone(),
        run: run.clone(),
        batch: args.batch,
        deadline: started + Duration::from_secs(args.duration),
        budget: args.events,
        reserved: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        reads: AtomicU64::new(0),
    });
    let ticker = tokio::spawn(progress(shared.clone()));
    let outcomes =
        futures::future::join_all((0..args.clients).map(|c| client::run(shared.clone(), c))).await;
    ticker.abort();
    let elapsed = started.elapsed();

    let mut acked = Vec::new();
    let (mut single, mut batch, mut read) = (Vec::new(), Vec::new(), Vec::new());
    let mut failures = std::collections::BTreeMap::<u16, u64>::new();
    let mut mismatches = 0;
    for outcome in outcomes {
        acked.extend(outcome.acked);
        single.extend(outcome.single_latency);
        batch.extend(outcome.batch_latency);
        read.extend(outcome.read_latency);
        mismatches += outcome.idempotency_mismatches;
        for (status, n) in outcome.failures {
            *failures.entry(status).or_default() += n;
        }
    }
    let ids: HashSet<&str> = acked.iter().map(|(id, _)| id.as_str()).collect();
    let drain_started = Instant::now();
    let stored = target
        .store
        .wait_for_drain(&run, &ids, Duration::from_secs(args.drain_timeout))
        .await?;
    let drained_in = drain_started.elapsed();
    let tally = verify::tally(&acked, &stored);
    if let Some(running) = target.running {
        let created = running.created();
        running.stop().await;
        audit_infra::remove(&target.store.dynamo, &target.store.sqs, &created).await;
    }

    println!("\n== load report ({:.1} s of load)", elapsed.as_secs_f64());
    println!(
        "events acknowledged {}  ({:.0} events/s)",
        tally.acknowledged,
        tally.acknowledged as f64 / elapsed.as_secs_f64()
    );
    println!(
        "events stored       {}  (drained {:.1} s after the load)",
        tally.stored,
        drained_in.as_secs_f64()
    );
    println!("lost                {}", tally.lost.len());
    println!(
        "duplicated          {}",
        tally.duplicated.values().sum::<usize>()
    );
    println!("stored without ack  {}", tally.unacknowledged);
    println!("idempotency misses  {mismatches}");
    println!("failed requests     {failures:?}  (status -> count; 0 = no answer)");
    println!("write (single)      {}", verify::summary(&mut single));
    println!("write (batch)       {}", verify::summary(&mut batch));
    println!("read                {}", verify::summary(&mut read));
    for id in tally.lost.iter().take(10) {
        println!("  lost: {id}");
    }
    for (seq, extra) in tally.duplicated.iter().take(10) {
        println!("  duplicated: {} (+{extra})", client::marker(&run, *seq));
    }
    if !tally.lost.is_empty() || !tally.duplicated.is_empty() || mismatches > 0 {
        bail!("acknowledged events were lost or stored more than once");
    }
    if tally.acknowledged == 0 {
        bail!("no event was acknowledged");
    }
    Ok(())
}
