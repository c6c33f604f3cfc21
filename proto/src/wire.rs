//! Generated protobuf messages (prost) and gRPC services (tonic) for package `heartline.v1`.
//!
//! Architecture invariant: these types appear only at the edges (hub ingest and API, agent and
//! simulator encoders); everything else works on domain types.
#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/heartline.v1.rs"));

/// Largest encoded `Signed` envelope the hub accepts by default (a report with dozens of metrics
/// and checks fits in well under 4 KiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 16 * 1024;
