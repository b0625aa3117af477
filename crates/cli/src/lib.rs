//! The library half of `audit-log`: `verify`, so that the benchmarks time the very code the
//! command runs.

pub mod verify;
