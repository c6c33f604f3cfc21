//! Heartline's fleet simulator: scenarios, fault injection, load and scoring (filled by the
//! simulator issue). It will drive the hub's sans-IO engine in virtual time and real devices over
//! MQTT against a running hub.

pub use heartline_proto::wire;
