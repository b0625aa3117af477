//! `audit-log export` against a runner of its own: the file equals the API's answers joined (one
//! CSV header), in NDJSON and CSV, and a failed export leaves no file behind.

use std::time::{Duration, Instant};

use audit_aws::Config;
use audit_local::{start, Running, Settings};
use serde_json::{json, Value};

use crate::endpoint;

const SEEDED: usize = 23;

async fn runner() -> Running {
    let mut config = Config::from_lookup(|_| None).unwrap();
    config.auth = audit_aws::config::AuthMode::Optional;
    let names = audit_infra::ResourceNames::unique("cli-export");
    config.table = names.table;
    config.counters_table = names.counters_table;
    config.queue_url = format!("{}/123456789012/{}", endpoint(), names.queue);
    // Small answers, so that 23 events take five, linked.
    config.export_max_events = 5;
    start(Settings {
        config,
        sdk: audit_infra::emulator_sdk_config(&endpoint()).await,
        listen: "127.0.0.1:0".parse().unwrap(),
        visibility_timeout: Some(1),
        poll_wait: Duration::from_secs(1),
        stream_deliveries: 1,
        // Exports read the table; the sealed log is not what this tests.
        seal: false,
    })
    .await
    .expect("the runner starts on the emulator")
}

/// Seeds events named `cli.*` and waits until a read counts them all.
async fn seed(http: &reqwest::Client, url: &str) {
    let batch: Vec<Value> = (0..SEEDED)
        .map(|i| {
            json!({
                "event_name": format!("cli.e{}", i % 3),
                "description": format!("{i}: a, \"b\"\nc ✓"),
                "metadata": {"i": i},
            })
        })
        .collect();
    let response = http
        .post(format!("{url}/api/write/batch"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page: Value = http
            .get(format!("{url}/api/read?event_name=cli.&page_size=1"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["metadata"]["total_records"] == SEEDED {
            return;
        }
        assert!(Instant::now() < deadline, "not stored in time: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The API's answers for `query`, joined as the CLI must join them.
async fn api_pages(http: &reqwest::Client, url: &str, query: &str, csv: bool) -> (String, usize) {
    let mut joined = String::new();
    let mut next = Some(format!("/api/export?{query}"));
    let mut answers = 0;
    while let Some(path) = next.take() {
        let response = http.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        next = response.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            l[1..l.find('>').unwrap()].to_owned()
        });
        let body = response.text().await.unwrap();
        let body = match (csv, answers) {
            (true, n) if n > 0 => body.split_once("\r\n").unwrap().1.to_owned(),
            _ => body,
        };
        joined.push_str(&body);
        answers += 1;
    }
    (joined, answers)
}

// Multi-threaded: the runner serves on its own threads while the CLI runs as a blocking child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_equals_the_apis_pages_and_a_failed_export_leaves_none() {
    let running = runner().await;
    let url = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    seed(&http, &url).await;
    let dir = std::env::temp_dir().join(format!("audit-cli-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    for (format, query) in [
        ("ndjson", "event_name=cli.&sort=created_at&format=ndjson"),
        ("csv", "event_name=cli.&sort=created_at&format=csv"),
    ] {
        let output = dir.join(format!("out.{format}"));
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_audit-log"))
            .args([
                "export",
                "--event-name",
                "cli.",
                "--sort",
                "created_at",
                "--format",
                format,
            ])
            .arg("--output")
            .arg(&output)
            .env("AUDIT_URL", &url)
            .env_remove("AUDIT_API_KEY")
            .output()
            .unwrap();
        assert!(run.status.success(), "{run:?}");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains(&format!("wrote {SEEDED} events")),
            "{stderr}"
        );
        let file = std::fs::read_to_string(&output).unwrap();
        let (expected, answers) = api_pages(&http, &url, query, format == "csv").await;
        assert_eq!(answers, SEEDED.div_ceil(5));
        assert_eq!(file, expected, "{format}");
        let lines = match format {
            "csv" => csv::Reader::from_reader(file.as_bytes()).records().count(),
            _ => file.lines().count(),
        };
        assert_eq!(lines, SEEDED);
    }

    // The API refuses the query: no file, and no temporary file either.
    let output = dir.join("refused.ndjson");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_audit-log"))
        .args([
            "export",
            "--from",
            "2026-02-01T00:00:00Z",
            "--to",
            "2026-01-01T00:00:00Z",
        ])
        .arg("--output")
        .arg(&output)
        .env("AUDIT_URL", &url)
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("422") && stderr.contains("must be later than from"),
        "{stderr}"
    );
    assert!(!output.exists());
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    std::fs::remove_dir_all(&dir).unwrap();
    running.stop().await;
}
