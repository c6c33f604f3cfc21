//! MQTT 3.1.1 for the firmware: a hand-written codec and a non-blocking client session.
//!
//! Hand-written rather than a crate: the no_std clients that fit (minimq, rust-mqtt) speak only
//! MQTT 5 and cost 21–41 KB of flash; the firmware needs five packet types, which take a few KB.
//! The hub's broker serves 3.1.1 on its own listener.

pub mod codec;
pub mod session;

pub use codec::{Connect, Packet, Will};
pub use session::{Error, Event, Lost, Options, Session};

#[cfg(test)]
mod tests;
