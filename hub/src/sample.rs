//! Test fixtures shared by the hub's unit tests: a ticket with plain defaults, which a test
//! changes with struct update syntax (`Ticket { state, ..sample::ticket(1, "acme") }`).

use heartline_engine::{FaultKind, SlaTimes, Ticket, TicketId, TicketState};
use heartline_proto::Severity;

/// An open, unassigned, major ticket of `tenant` (project `p`, site `s`, device `d`, silent),
/// opened at 0 with a one-minute respond-by and a one-hour repair-by.
pub(crate) fn ticket(id: TicketId, tenant: &str) -> Ticket {
    Ticket {
        id,
        tenant: tenant.into(),
        project: "p".into(),
        site: "s".into(),
        device: "d".into(),
        root: FaultKind::Silent,
        title: String::new(),
        severity: Severity::Major,
        state: TicketState::Open,
        engineer: None,
        opened_at: 0,
        updated_at: 0,
        closed_at: None,
        affected: vec![],
        flapping: false,
        predicted_failure_at: None,
        verify_until: None,
        sla: SlaTimes {
            respond: 60_000,
            repair: 3_600_000,
        },
        respond_by: 60_000,
        repair_by: 3_600_000,
        reopened: 0,
        timeline: vec![],
        dispatch: Default::default(),
        customer_reported_at: None,
        fault_since: None,
        accepted_at: None,
        rating: None,
    }
}
