//! Heartline's decision logic, sans-IO: fault detection, the ticket lifecycle, dispatch and SLA
//! escalation, as a state machine over `(now, input)`. No clock, no threads, no network, no
//! store: the hub's ingest feeds it wall-clock time and commits what it changed; the simulator
//! and the tests drive it in virtual time. Like quinn-proto beside quinn.
//!
//! Component map:
//! - [`domain`]: the leaf every other part (and the hub) imports: time, reports, devices, faults,
//!   tickets, SLA, shifts, changes and outputs;
//! - [`engine`]: [`Engine`], `handle(now, input)`, `next_deadline()`, `take_changes()`;
//! - [`dispatch`]: who gets a ticket, and the SLA clocks' escalation ladder;
//! - [`rules`]: the detection settings ([`EngineConfig`]); [`detection_config`] compiles them
//!   from TOML (`hub.toml`, a scenario), each mistake on its line ([`diagnostic`]);
//! - `timers`: the engine's timer queue; `by_metric`: a report's rules by metric name.
//!
//! Architecture invariant: this crate imports nothing of the hub and no I/O crate (tokio, the
//! broker, redb, axum, tonic); `tests/run-all` fails if one appears in its dependency tree.

mod by_metric;
pub mod detection_config;
pub mod diagnostic;
pub mod dispatch;
pub mod domain;
pub mod engine;
pub mod rules;
mod timers;

pub use domain::{
    Actor, Changes, CheckResult, Clocks, DeviceEvent, DeviceInfo, DeviceMemory, DispatchState,
    EventKind, Fault, FaultKind, HOUR, Level, MINUTE, Maintenance, MetricValue, Ms, Notice,
    NoticeKind, Output, Presence, Rating, Report, SECOND, Series, Shift, SlaPolicy, SlaTimes,
    Ticket, TicketAction, TicketError, TicketId, TicketState, TimelineEntry,
};
pub use domain::{Area, Detail, Escalation, Pick, Refusal, What};
pub use engine::{DeviceRef, Engine, Input, PROBE_RETRY, RECONNECT, TICK};
pub use rules::{Direction, EngineConfig, ThresholdRule, TrendRule, applies};
