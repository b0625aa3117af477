//! Where a function's init time goes: each start-up step of the write and read functions, timed.
//! A diagnostic for `bench-init`'s ratio, printed in microseconds.

use std::time::Instant;

#[tokio::main]
async fn main() {
    let start = Instant::now();
    let mut last = start;
    let mut step = |name: &str| {
        let now = Instant::now();
        println!("{name:<28} {:>8} us", (now - last).as_micros());
        last = now;
    };
    step("runtime started");
    let config = audit_aws::Config::from_env().expect("config");
    step("Config::from_env");
    audit_telemetry::init_tracing(config.log_format);
    step("init_tracing");
    let sdk = audit_aws::sdk_config(&config.sdk).await;
    step("sdk_config");
    let _queue = audit_aws::SqsQueue::from_sdk(&sdk, &config.queue_url);
    step("SQS client");
    let _store = audit_aws::DynamoStore::from_sdk(&sdk, &config.table);
    step("DynamoDB client");
    println!("{:<28} {:>8} us", "total", start.elapsed().as_micros());
}
