//! audit-tlog's tests through its public API, in one binary: published vectors (RFC 6962/9162
//! Merkle trees, RFC 8785 JCS), adversarial proofs, and properties against the RFC's recursive
//! definitions.

mod adversarial;
mod append;
mod jcs;
mod properties;
mod reference;
mod vectors;
