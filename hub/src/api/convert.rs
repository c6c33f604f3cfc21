//! Domain tickets → the wire types of `api.proto` and the JSON of the SSE streams.

use crate::i18n::{Lang, render};
use crate::localtime::Zone;
use heartline_engine::{Actor, Ticket, TicketState};
use heartline_proto::{Severity, wire};

pub fn severity(s: Severity) -> wire::Severity {
    match s {
        Severity::Info => wire::Severity::Info,
        Severity::Minor => wire::Severity::Minor,
        Severity::Major => wire::Severity::Major,
        Severity::Critical => wire::Severity::Critical,
    }
}

pub fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Minor => "minor",
        Severity::Major => "major",
        Severity::Critical => "critical",
    }
}

pub fn state(s: TicketState) -> wire::TicketState {
    match s {
        TicketState::Open => wire::TicketState::Open,
        TicketState::Dispatched => wire::TicketState::Dispatched,
        TicketState::Accepted => wire::TicketState::Accepted,
        TicketState::OnSite => wire::TicketState::OnSite,
        TicketState::Resolved => wire::TicketState::Resolved,
        TicketState::Closed => wire::TicketState::Closed,
        TicketState::AutoRecovered => wire::TicketState::AutoRecovered,
        TicketState::Reopened => wire::TicketState::Reopened,
        TicketState::Cancelled => wire::TicketState::Cancelled,
    }
}

/// `(kind, id)` of an actor: device, system, engineer, customer or operator.
pub fn actor(a: &Actor) -> (&'static str, &str) {
    match a {
        Actor::Device(d) => ("device", d),
        Actor::System => ("system", ""),
        Actor::Engineer(e) => ("engineer", e),
        Actor::Customer(c) => ("customer", c),
        Actor::Operator(o) => ("operator", o),
    }
}

pub fn ticket(t: &Ticket) -> wire::Ticket {
    wire::Ticket {
        ticket_id: t.id.to_string(),
        tenant_id: t.tenant.clone(),
        project_id: t.project.clone(),
        device_id: t.device.clone(),
        title: t.title.clone(),
        severity: severity(t.severity) as i32,
        state: state(t.state) as i32,
        engineer_id: t.engineer.clone().unwrap_or_default(),
        opened_ms: t.opened_at,
        respond_by_ms: t.respond_by,
        repair_by_ms: t.repair_by,
        affected_device_ids: t.affected.clone(),
        timeline: t
            .timeline
            .iter()
            .map(|e| {
                let (kind, who) = actor(&e.actor);
                wire::TimelineEntry {
                    at_ms: e.at,
                    actor_kind: kind.to_string(),
                    actor: who.to_string(),
                    what: render::entry(Lang::En, &Zone::default(), e),
                }
            })
            .collect(),
    }
}

/// A ticket as the SSE streams send it.
pub fn ticket_json(t: &Ticket) -> serde_json::Value {
    serde_json::json!({
        "ticket_id": t.id,
        "tenant_id": t.tenant,
        "project_id": t.project,
        "site_id": t.site,
        "device_id": t.device,
        "title": t.title,
        "severity": severity_str(t.severity),
        "state": t.state.as_str(),
        "engineer_id": t.engineer,
        "opened_ms": t.opened_at,
        "updated_ms": t.updated_at,
        "respond_by_ms": t.respond_by,
        "repair_by_ms": t.repair_by,
        "reason": reason(Lang::En, t),
        "affected": t.affected,
        "timeline": t.timeline.iter().map(|e| {
            let (kind, who) = actor(&e.actor);
            serde_json::json!({"at_ms": e.at, "actor_kind": kind, "actor": who, "what": render::entry(Lang::En, &Zone::default(), e)})
        }).collect::<Vec<_>>(),
    })
}

/// Why the ticket's engineer was chosen, in `lang` (empty when nobody was).
pub fn reason(lang: Lang, t: &Ticket) -> String {
    t.dispatch
        .reason
        .as_ref()
        .map(|w| render::what(lang, &Zone::default(), w))
        .unwrap_or_default()
}
