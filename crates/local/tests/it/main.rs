//! The local runner's integration tests, one binary: each module drives the runner (or the drain
//! handler) against the emulator at `AWS_ENDPOINT_URL`, through `common::spawn_app`, which gives
//! every test its own table and queues so that they run in parallel.

mod auth;
mod common;
mod counted;
mod counters;
mod drain;
mod export;
mod faults;
mod fixtures;
mod ingest;
mod openapi_sync;
mod read;
mod sealed;
mod stream_poller;
mod viewer;
