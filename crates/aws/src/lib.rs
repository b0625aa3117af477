//! placeholder
pub mod infra;
