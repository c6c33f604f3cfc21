//! Heartline's one schema, shared by the hub, the Linux agent, the firmware and the simulator.
//!
//! - [`wire`] (feature `std`): the prost messages and tonic services generated from
//!   `heartline/v1/*.proto`, the single source of truth for MQTT payloads and the gRPC API.
//! - [`ids`], [`topic`], [`status`]: domain types that need neither `std` nor an allocator, so the
//!   firmware uses the same device-id rules, topic scheme and status vocabulary as the hub.
//! - [`probe`]: when an ack's "report now" is to be answered (not a replay).
//! - [`signing`]: the HMAC-SHA256 every payload carries, one function to sign and one to verify.
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "std")]
pub mod envelope;
pub mod ids;
pub mod probe;
pub mod signing;
pub mod status;
pub mod topic;
#[cfg(feature = "std")]
pub mod wire;

pub use ids::{IdError, validate_id};
pub use probe::ProbeGuard;
pub use signing::{DeviceKey, MAC_LEN, sign, verify};
pub use status::{CheckState, DeviceStatus, Severity};
pub use topic::{Channel, Topic};
