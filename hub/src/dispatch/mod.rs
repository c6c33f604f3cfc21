//! Dispatch policy (sans-IO, like the engine): which on-duty engineer gets a ticket, and the SLA
//! clocks that re-offer an unaccepted dispatch and climb the escalation ladder
//! (engineer → grid manager → district manager → service leader).
//!
//! Pure functions and a state machine over `(now, input)`; the hub wires them to tickets.

pub mod choose;
pub mod ladder;

pub use choose::{Choice, Engineer, Job, Shift, choose};
pub use ladder::{Action, Clocks, Level, Managers};
