//! The CLI's integration tests, one binary: each module runs the built `audit-log` against its
//! own uniquely named table on the emulator at `AWS_ENDPOINT_URL` (default 127.0.0.1:4566; `make
//! test` starts it), so that they run in parallel.

mod counters;
mod export;
mod keys;
mod verify;

use std::process::{Command, Output};

pub use audit_infra::emulator_endpoint as endpoint;

/// Runs `audit-log` with `args` on `table`, as an operator would under `make`.
pub fn cli(table: &str, args: &[&str]) -> Output {
    cli_with_counters(table, &format!("{table}-counters"), args)
}

/// `audit-log args` on `table` and the counters table `counters_table`.
pub fn cli_with_counters(table: &str, counters_table: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit-log"))
        .args(args)
        .env("AUDIT_TABLE", table)
        .env("AUDIT_COUNTERS_TABLE", counters_table)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

/// The standard output of a run that must have succeeded.
pub fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout.clone()).unwrap()
}
