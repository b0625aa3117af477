//! The AWS side of the audit log: the adapters that implement the domain's ports on DynamoDB and SQS,
//! the typed config every function reads at start-up, and the SDK's set-up from it. Dev tooling (the
//! template interpreter and bootstrap) is in `audit-infra`, which no Lambda links.

pub mod api_keys;
pub mod archive;
pub mod config;
pub mod counters;
pub mod endpoint;
mod error;
pub mod log;
pub mod queue;
pub mod reader;
pub mod sdk;
pub mod signer;
pub mod store;

pub use api_keys::DynamoKeys;
pub use archive::S3Archive;
pub use config::{Config, ConfigError, FrameAncestors, SdkSettings, Secret};
pub use log::DynamoLog;
pub use queue::SqsQueue;
pub use reader::DynamoReader;
pub use sdk::{sdk_config, sdk_loader};
pub use signer::KmsSigner;
pub use store::DynamoStore;
