//! The `audit-local` binary as a child process, so that a case can SIGKILL it mid-drain and start
//! it again on the same table and queue, exactly as a crashed host would be replaced.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use audit_aws::Config;

/// How long a runner may take to create (or find) its resources and answer HTTP.
const READY_LIMIT: Duration = Duration::from_secs(60);

pub struct Runner {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

/// A port nobody listens on right now (the kernel's pick for port 0, released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

impl Runner {
    /// Starts the runner on a free port with `config`'s table and queue, reaching AWS through
    /// `endpoint` (the emulator or a proxy), and waits until it answers HTTP. Its log starts afresh
    /// in `<target tmp>/faults/<log_name>.log`.
    pub async fn start(config: &Config, endpoint: &str, visibility: u32, log_name: &str) -> Runner {
        Self::spawn(config, endpoint, visibility, log_name, false).await
    }

    /// As [`Runner::start`], but continuing the log of the runner it replaces.
    pub async fn restart(
        config: &Config,
        endpoint: &str,
        visibility: u32,
        log_name: &str,
    ) -> Runner {
        Self::spawn(config, endpoint, visibility, log_name, true).await
    }

    async fn spawn(
        config: &Config,
        endpoint: &str,
        visibility_timeout: u32,
        log_name: &str,
        append: bool,
    ) -> Runner {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("faults");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("{log_name}.log"));
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&log)
            .unwrap();
        let listen = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_audit-local"))
            .env("AUDIT_LISTEN", &listen)
            .env("AUDIT_TABLE", &config.table)
            .env("AUDIT_COUNTERS_TABLE", &config.counters_table)
            .env("AUDIT_QUEUE_URL", &config.queue_url)
            .env("AUDIT_SHARDS", config.shards.to_string())
            .env(
                "AUDIT_DRAIN_CONCURRENCY",
                config.drain_concurrency.to_string(),
            )
            .env("AUDIT_COUNTERS_TABLE", &config.counters_table)
            .env("AUDIT_LOG_TABLE", &config.log_table)
            .env("AUDIT_SIGNING_KEY", &config.signing_key)
            .env("AUDIT_CHECKPOINT_BUCKET", &config.checkpoint_bucket)
            .env(
                "AUDIT_SEAL_INTERVAL_SECONDS",
                config.seal_interval.as_secs().to_string(),
            )
            .env("AUDIT_AUTH", "optional")
            .env(
                "AUDIT_LOCAL_VISIBILITY_TIMEOUT",
                visibility_timeout.to_string(),
            )
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env("AUDIT_LOG_FORMAT", "text")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("audit-local starts");
        let mut runner = Runner {
            child,
            url: format!("http://{listen}"),
            log,
        };
        runner.wait_ready().await;
        runner
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let start = Instant::now();
        while start.elapsed() < READY_LIMIT {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "audit-local exited with {status}; see {}",
                    self.log.display()
                );
            }
            // Any HTTP answer (the read routes may 404) means the gateway is serving.
            if http
                .get(format!("{}/api/logs/ready", self.url))
                .send()
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "audit-local did not answer within {READY_LIMIT:?}; see {}",
            self.log.display()
        );
    }

    /// How many lines of the log contain `text`.
    pub fn log_lines_with(&self, text: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(text))
            .count()
    }

    /// SIGKILL: no shutdown hook runs, in-flight requests and batches are cut where they stand.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Runner {
    /// A failing case must not leave its runner draining in the background.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}
