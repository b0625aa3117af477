//! The AWS side of the audit log: DynamoDB and SQS adapters for the domain's ports, the typed
//! config, and the resource bootstrap that reads `infra/template.yaml`.

pub mod config;
pub mod counters;
pub mod endpoint;
mod error;
pub mod index;
pub mod infra;
pub mod keys;
pub mod queue;
pub mod store;

pub use config::{emulator_endpoint, emulator_sdk_config, sdk_config, sdk_loader, Config, Secret};
pub use keys::DynamoKeys;
pub use queue::SqsQueue;
pub use store::DynamoStore;
