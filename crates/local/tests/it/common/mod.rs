//! `spawn_app()`: a runner on a free port with its own uniquely named table and queues on the
//! emulator, so tests run in parallel and never see each other's data.
#![allow(dead_code)] // The fault suite uses only part of it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use audit_aws::counters::DynamoCounters;
use audit_aws::Config;
use audit_domain::counters::tenant_partition;
use audit_domain::layout::EventRecord;
use audit_domain::Tenant;
use audit_local::{start, Running, Settings};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;

pub struct TestApp {
    pub running: Running,
    pub url: String,
    pub config: Config,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub http: reqwest::Client,
}

pub use audit_infra::emulator_endpoint as endpoint;

pub async fn sdk() -> aws_config::SdkConfig {
    audit_infra::emulator_sdk_config(&endpoint()).await
}

/// A config of unique names. Auth is `optional`, so tests that send no key act for `default`;
/// `auth.rs` switches it to `required`.
pub fn test_config() -> Config {
    let mut config = Config::from_lookup(|_| None).unwrap();
    config.auth = audit_domain::auth::AuthMode::Optional;
    let names = audit_infra::ResourceNames::unique("local");
    config.table = names.table;
    config.counters_table = names.counters_table;
    config.queue_url = format!("{}/123456789012/{}", endpoint(), names.queue);
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    spawn_app_delivering(config, 1).await
}

/// A runner whose stream poller hands the count function every batch `deliveries` times.
pub async fn spawn_app_delivering(config: Config, deliveries: usize) -> TestApp {
    let sdk = sdk().await;
    let running = start(Settings {
        config: config.clone(),
        sdk: sdk.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        visibility_timeout: Some(1),
        poll_wait: Duration::from_secs(1),
        stream_deliveries: deliveries,
    })
    .await
    .expect("the runner starts; is the emulator running? (`make test` starts it)");
    TestApp {
        url: format!("http://{}", running.addr),
        running,
        config,
        dynamo: aws_sdk_dynamodb::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        http: reqwest::Client::new(),
    }
}

impl TestApp {
    pub async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Every item of the table, raw.
    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        scan(&self.dynamo, &self.running.table).await
    }

    pub async fn events(&self) -> Vec<EventRecord> {
        event_records(&self.dynamo, &self.running.table).await
    }

    /// Waits until the table holds `n` events and the count function has counted them all, or
    /// `limit` passes; returns what is there.
    pub async fn wait_for_events(&self, n: usize, limit: Duration) -> Vec<EventRecord> {
        let start = Instant::now();
        loop {
            let events = self.events().await;
            if events.len() >= n {
                let left = limit.saturating_sub(start.elapsed());
                self.wait_for_counters(left).await;
                return events;
            }
            if start.elapsed() > limit {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Each tenant's stored events and its counted total, by tenant.
    pub async fn stored_and_counted(&self) -> BTreeMap<String, (i64, i64)> {
        let counters = DynamoCounters::new(self.dynamo.clone(), &self.running.counters_table);
        let mut by_tenant: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for event in self.events().await {
            by_tenant.entry(event.tenant).or_default().0 += 1;
        }
        for (tenant, (_, counted)) in by_tenant.iter_mut() {
            let tenant = Tenant::parse(tenant).expect("stored tenants are valid");
            *counted = counters
                .get_total(&tenant_partition(&tenant))
                .await
                .expect("the counters table answers")
                .sum;
        }
        by_tenant
    }

    /// Waits until every tenant's counted total equals its stored events (the count function has
    /// caught up with the stream), or `limit` passes; true if it caught up.
    pub async fn wait_for_counters(&self, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            if self
                .stored_and_counted()
                .await
                .values()
                .all(|(s, c)| s == c)
            {
                return true;
            }
            if start.elapsed() > limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the runner's queue holds no message, visible, in flight or delayed, or `limit`
    /// passes; true if it emptied. The runner deletes a message only once the drain has handled it.
    pub async fn wait_for_empty_queue(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if queue_depth(&self.sqs, &self.running.queue_url).await == (0, 0, 0) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

/// Messages visible, in flight and delayed.
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> (u64, u64, u64) {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .unwrap_or_default();
    let get = |name: QueueAttributeName| {
        attributes
            .get(&name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    )
}

pub async fn scan(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = dynamo
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

pub async fn event_records(dynamo: &aws_sdk_dynamodb::Client, table: &str) -> Vec<EventRecord> {
    scan(dynamo, table)
        .await
        .into_iter()
        .filter(|item| matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk == "E"))
        .map(|item| serde_dynamo::from_item(item).unwrap())
        .collect()
}
