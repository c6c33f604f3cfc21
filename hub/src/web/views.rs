//! What the project view shows, computed from the store (scoped) and the live status board:
//! project health at a glance, devices with their status, tickets with SLA state, KPIs.

use super::reader::Reader;
use crate::i18n::render;
use crate::live::Board;
use crate::store::{ProjectRecord, Scope, Store, StoreError};
use heartline_engine::{DeviceInfo, Ms, Ticket, TicketState};
use heartline_proto::{DeviceStatus, Severity};
use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub ok: u32,
    pub warning: u32,
    pub down: u32,
    pub affected: u32,
    pub maintenance: u32,
    pub unknown: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectSummary {
    pub project_id: String,
    pub tenant_id: String,
    pub name: String,
    /// "ok", "warning" or "down": the colour of the project at a glance.
    pub health: &'static str,
    pub devices: Counts,
    pub open_tickets: u32,
    pub open_by_severity: [u32; 4],
    pub sla_at_risk: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    pub device_id: String,
    pub site_id: String,
    pub kind: String,
    pub status: &'static str,
    pub last_report_ms: Ms,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketRow {
    pub ticket_id: u64,
    pub project_id: String,
    pub site_id: String,
    pub device_id: String,
    /// In the reader's language.
    pub title: String,
    /// Stable codes (`critical`, `on site`, `at risk`) and their words in the reader's language.
    pub severity: &'static str,
    pub severity_label: String,
    pub state: &'static str,
    pub state_label: String,
    pub engineer_id: Option<String>,
    pub opened_ms: Ms,
    pub respond_by_ms: Ms,
    pub repair_by_ms: Ms,
    /// Local time of the ticket's tenant, `2026-12-04 12:30:28`.
    pub opened_local: String,
    pub repair_by_local: String,
    pub sla: &'static str,
    pub sla_label: String,
    pub rating: Option<u8>,
}

pub fn status_str(s: DeviceStatus) -> &'static str {
    match s {
        DeviceStatus::Unknown => "unknown",
        DeviceStatus::Ok => "ok",
        DeviceStatus::Warning => "warning",
        DeviceStatus::Down => "down",
        DeviceStatus::Affected => "affected",
        DeviceStatus::Maintenance => "maintenance",
    }
}

fn severity_index(s: Severity) -> usize {
    match s {
        Severity::Info => 0,
        Severity::Minor => 1,
        Severity::Major => 2,
        Severity::Critical => 3,
    }
}

/// "met", "at risk" (80 % of the repair time used, or respond-by passed unaccepted), "breached".
pub fn sla_state(t: &Ticket, now: Ms) -> &'static str {
    let end = t.closed_at.unwrap_or(now);
    if end > t.repair_by {
        return "breached";
    }
    if t.state.is_terminal() {
        return "met";
    }
    let unaccepted = matches!(
        t.state,
        TicketState::Open | TicketState::Reopened | TicketState::Dispatched
    );
    let risk = t.opened_at + (t.repair_by - t.opened_at) * 8 / 10;
    if now >= risk || (unaccepted && now > t.respond_by) {
        "at risk"
    } else {
        "on track"
    }
}

pub fn ticket_row(t: &Ticket, now: Ms, reader: &Reader) -> TicketRow {
    let (lang, zone) = (reader.lang, reader.zone(&t.tenant));
    let sla = sla_state(t, now);
    TicketRow {
        ticket_id: t.id,
        project_id: t.project.clone(),
        site_id: t.site.clone(),
        device_id: t.device.clone(),
        title: render::title(lang, t),
        severity: crate::api::convert::severity_str(t.severity),
        severity_label: render::severity(lang, t.severity),
        state: t.state.as_str(),
        state_label: render::state(lang, t.state),
        engineer_id: t.engineer.clone(),
        opened_ms: t.opened_at,
        respond_by_ms: t.respond_by,
        repair_by_ms: t.repair_by,
        opened_local: zone.format(t.opened_at),
        repair_by_local: zone.format(t.repair_by),
        sla,
        sla_label: render::sla(lang, sla),
        rating: t.rating.as_ref().map(|r| r.stars),
    }
}

/// Sorts the worst status first: down, warning, affected, maintenance, unknown, ok.
pub fn worse_first(s: DeviceStatus) -> u8 {
    match s {
        DeviceStatus::Down => 0,
        DeviceStatus::Warning => 1,
        DeviceStatus::Affected => 2,
        DeviceStatus::Maintenance => 3,
        DeviceStatus::Unknown => 4,
        DeviceStatus::Ok => 5,
    }
}

pub fn device_row(d: &DeviceInfo, board: &Board) -> DeviceRow {
    let view = board.device(&d.id);
    DeviceRow {
        device_id: d.id.clone(),
        site_id: d.site.clone(),
        kind: d.kind.clone(),
        status: status_str(view.map_or(DeviceStatus::Unknown, |v| v.status)),
        last_report_ms: view.map_or(0, |v| v.last_report_ms),
    }
}

pub fn summarize(
    p: &ProjectRecord,
    devices: &[DeviceInfo],
    tickets: &[Ticket],
    board: &Board,
    now: Ms,
) -> ProjectSummary {
    let mut counts = Counts::default();
    for d in devices.iter().filter(|d| d.project == p.id) {
        let status = board
            .device(&d.id)
            .map_or(DeviceStatus::Unknown, |v| v.status);
        let slot = match status {
            DeviceStatus::Ok => &mut counts.ok,
            DeviceStatus::Warning => &mut counts.warning,
            DeviceStatus::Down => &mut counts.down,
            DeviceStatus::Affected => &mut counts.affected,
            DeviceStatus::Maintenance => &mut counts.maintenance,
            DeviceStatus::Unknown => &mut counts.unknown,
        };
        *slot += 1;
    }
    let open: Vec<&Ticket> = tickets
        .iter()
        .filter(|t| t.project == p.id && !t.state.is_terminal())
        .collect();
    let mut by_severity = [0u32; 4];
    for t in &open {
        by_severity[severity_index(t.severity)] += 1;
    }
    let at_risk = open
        .iter()
        .filter(|t| matches!(sla_state(t, now), "at risk" | "breached"))
        .count() as u32;
    let health = if counts.down > 0 || by_severity[3] > 0 {
        "down"
    } else if counts.warning + counts.affected > 0 || !open.is_empty() {
        "warning"
    } else {
        "ok"
    };
    ProjectSummary {
        project_id: p.id.clone(),
        tenant_id: p.tenant.clone(),
        name: p.name.clone(),
        health,
        devices: counts,
        open_tickets: open.len() as u32,
        open_by_severity: by_severity,
        sla_at_risk: at_risk,
    }
}

/// Every project the scope may see, summarized.
pub fn projects(
    store: &Store,
    board: &Board,
    scope: &Scope,
    now: Ms,
) -> Result<Vec<ProjectSummary>, StoreError> {
    let devices = store.devices(scope)?;
    let tickets = store.tickets(scope)?;
    Ok(store
        .projects(scope)?
        .iter()
        .map(|p| summarize(p, &devices, &tickets, board, now))
        .collect())
}
