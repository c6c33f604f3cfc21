//! Dispatch policy (sans-IO, like the engine): which on-duty engineer gets a ticket, and the SLA
//! clocks that re-offer an unaccepted dispatch and climb the escalation ladder
//! (engineer → grid manager → district manager → service leader).
//!
//! Pure functions and a state machine over `(now, input)`; the engine applies them to tickets
//! (`engine::assign`), and the hub delivers the notices they produce (`notify`).

pub mod choose;
pub mod ladder;
pub mod roster;

pub use choose::{Choice, Engineer, Job, choose};
pub use ladder::{Action, Managers, next_clock};
pub use roster::{Manager, Roster, SiteArea};
