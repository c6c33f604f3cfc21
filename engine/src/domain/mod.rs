//! The domain: the vocabulary every part of Heartline past the wire speaks — time, reports,
//! devices, faults, tickets, service levels, shifts, and what the engine hands back. A leaf:
//! it imports nothing else of this crate, and everything else (the engine, dispatch, and in the
//! hub the store, inventory, audit and ingest) imports it.
//!
//! - [`units`]: `Ms` and ticket numbers; [`report`]: a verified report and a presence change;
//! - [`device`]: who a device is, what the engine remembers of it, maintenance windows;
//! - [`fault`]: one condition on one device; [`ticket`]: the ticket and its lifecycle rules;
//! - [`timeline`]: what happened to a ticket, as kinds with parameters (rendered by the hub);
//! - [`sla`]: SLA times, the clocks a ticket carries, the ladder's levels; [`shift`]: duty hours;
//! - [`outcome`]: the changes to commit and the outputs (notices) to deliver.

pub mod device;
pub mod fault;
pub mod outcome;
pub mod report;
pub mod shift;
pub mod sla;
pub mod ticket;
pub mod timeline;
pub mod units;

pub use device::{DeviceInfo, DeviceMemory, Maintenance, Series};
pub use fault::{Fault, FaultKind};
pub use outcome::{Changes, Notice, NoticeKind, Output};
pub use report::{CheckResult, DeviceEvent, EventKind, MetricValue, Presence, Report};
pub use shift::Shift;
pub use sla::{Clocks, Level, SlaPolicy, SlaTimes};
pub use ticket::{
    Actor, DispatchState, Rating, Refusal, Ticket, TicketAction, TicketError, TicketState,
};
pub use timeline::{Area, Detail, Escalation, Pick, TimelineEntry, What};
pub use units::{HOUR, MINUTE, Ms, SECOND, TicketId};
