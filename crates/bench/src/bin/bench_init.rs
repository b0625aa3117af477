//! Init time of each function's binary, against a hello-world `lambda_runtime` binary in the same run.
//!
//! A small fake Lambda Runtime API on 127.0.0.1 records, for each start of a binary: the time from
//! spawning the process to its first `GET /runtime/invocation/next` (init), and to its answer to the
//! first invocation (first answer: moving work out of init into the first call is no win, so both are
//! measured). Runs alternate between binaries so that machine noise hits them alike; medians are
//! reported, with each function's ratio to hello-world.
//!
//! Usage: bench-init <runs> <name>=<binary>[:<event.json>] ...

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

/// What the fake runtime saw, in order.
#[derive(Debug)]
enum Seen {
    Next,
    Answer { error: bool },
}

struct Runtime {
    event: Mutex<Option<Vec<u8>>>,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn serve(
    runtime: Arc<Runtime>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if path.ends_with("/invocation/next") {
        let _ = runtime.seen.send(Seen::Next);
        let Some(event) = runtime.event.lock().await.take() else {
            // Only one invocation per start: park the second poll until the process is killed.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(Response::new(Full::new(Bytes::new())));
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 30_000;
        let response = Response::builder()
            .header("lambda-runtime-aws-request-id", "bench-request-1")
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(Bytes::from(event)))
            .unwrap();
        return Ok(response);
    }
    let _ = request.into_body().collect().await;
    if path.contains("/response") {
        let _ = runtime.seen.send(Seen::Answer { error: false });
    } else if path.contains("/error") {
        let _ = runtime.seen.send(Seen::Answer { error: true });
    }
    Ok(Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .unwrap())
}

/// One start of `binary`: (init, first answer).
async fn measure(binary: &str, event: &[u8]) -> anyhow::Result<(Duration, Duration)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runtime = Arc::new(Runtime {
        event: Mutex::new(Some(event.to_vec())),
        seen: tx,
    });
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            let runtime = runtime.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| serve(runtime.clone(), r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let start = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {binary}"))?;
    let limit = Duration::from_secs(20);
    let init = match tokio::time::timeout(limit, rx.recv()).await {
        Ok(Some(Seen::Next)) => start.elapsed(),
        other => bail!("{binary}: no invocation/next within {limit:?}: {other:?}"),
    };
    let answer = loop {
        match tokio::time::timeout(limit, rx.recv()).await {
            Ok(Some(Seen::Answer { error: false })) => break start.elapsed(),
            Ok(Some(Seen::Answer { error: true })) => {
                bail!("{binary}: the first invocation failed")
            }
            Ok(Some(Seen::Next)) => continue,
            _ => bail!("{binary}: no answer within {limit:?}"),
        }
    };
    let _ = child.kill().await;
    server.abort();
    Ok((init, answer))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args
        .next()
        .context("usage: bench-init <runs> name=binary[:event.json] ...")?
        .parse()?;
    let mut targets: Vec<(String, String, Vec<u8>)> = Vec::new();
    for arg in args {
        let (name, rest) = arg
            .split_once('=')
            .context("expected name=binary[:event.json]")?;
        let (binary, event) = match rest.split_once(':') {
            Some((binary, path)) => (
                binary.to_owned(),
                std::fs::read(path).with_context(|| path.to_owned())?,
            ),
            None => (rest.to_owned(), b"{}".to_vec()),
        };
        targets.push((name.to_owned(), binary, event));
    }
    if !targets.iter().any(|(n, _, _)| n == "hello") {
        bail!("one target must be named hello: it is the baseline");
    }
    let mut results: HashMap<String, (Vec<Duration>, Vec<Duration>)> = HashMap::new();
    for run in 0..runs {
        for (name, binary, event) in &targets {
            let (init, answer) = measure(binary, event).await?;
            let entry = results.entry(name.clone()).or_default();
            entry.0.push(init);
            entry.1.push(answer);
        }
        eprintln!("bench-init: run {}/{runs}", run + 1);
    }
    let (hello_init, hello_answer) = {
        let (i, a) = &results["hello"];
        (median(i.clone()), median(a.clone()))
    };
    println!(
        "{:<8} {:>10} {:>8} {:>14} {:>8}",
        "binary", "init ms", "x hello", "1st answer ms", "x hello"
    );
    for (name, _, _) in &targets {
        let (i, a) = &results[name];
        let (init, answer) = (median(i.clone()), median(a.clone()));
        println!(
            "{name:<8} {:>10.2} {:>8.2} {:>14.2} {:>8.2}",
            ms(init),
            ms(init) / ms(hello_init),
            ms(answer),
            ms(answer) / ms(hello_answer)
        );
    }
    Ok(())
}
