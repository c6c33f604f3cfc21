//! The site map's data: every site the caller may see with its coordinates (inventory
//! `location`), the status of its devices and its open tickets, and (for the operator) the
//! engineers' positions. The page draws it as its own SVG: no tile server, nothing fetched from
//! elsewhere, so it works offline.

use super::error::ApiError;
use super::principal::Principal;
use super::state::WebState;
use super::views::status_str;
use crate::store::Scope;
use axum::Json;
use axum::extract::State;
use heartline_proto::DeviceStatus;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The worst status first: a site shows the worst of its devices.
fn rank(s: DeviceStatus) -> u8 {
    match s {
        DeviceStatus::Down => 5,
        DeviceStatus::Warning => 4,
        DeviceStatus::Affected => 3,
        DeviceStatus::Maintenance => 2,
        DeviceStatus::Unknown => 1,
        DeviceStatus::Ok => 0,
    }
}

pub async fn map(State(state): State<WebState>, p: Principal) -> Result<Json<Value>, ApiError> {
    let scope = p
        .scope()
        .ok_or_else(|| ApiError::not_found("the site map"))?;
    let store = &state.store;
    let devices = store.devices(&scope).map_err(ApiError::store)?;
    let tickets = store.tickets(&scope).map_err(ApiError::store)?;
    // Per site: counts by status, the worst status, open tickets.
    let mut counts: HashMap<&str, (HashMap<&'static str, u32>, DeviceStatus)> = HashMap::new();
    for d in &devices {
        let status = state
            .live
            .board
            .device(&d.id)
            .map_or(DeviceStatus::Unknown, |v| v.status);
        let entry = counts
            .entry(d.site.as_str())
            .or_insert_with(|| (HashMap::new(), DeviceStatus::Ok));
        *entry.0.entry(status_str(status)).or_default() += 1;
        if rank(status) > rank(entry.1) {
            entry.1 = status;
        }
    }
    let mut open: HashMap<&str, u32> = HashMap::new();
    for t in tickets.iter().filter(|t| !t.state.is_terminal()) {
        *open.entry(t.site.as_str()).or_default() += 1;
    }
    let sites: Vec<Value> = store
        .sites(&scope)
        .map_err(ApiError::store)?
        .iter()
        .map(|s| {
            let (by_status, worst) = counts
                .get(s.id.as_str())
                .cloned()
                .unwrap_or((HashMap::new(), DeviceStatus::Unknown));
            json!({
                "site_id": s.id, "name": s.name, "project_id": s.project,
                "location": s.location.map(|(lat, lon)| json!({"lat": lat, "lon": lon})),
                "status": status_str(worst), "devices": by_status,
                "open_tickets": open.get(s.id.as_str()).copied().unwrap_or(0),
            })
        })
        .collect();
    let engineers: Vec<Value> = match scope {
        Scope::Operator => store
            .engineers(&Scope::Operator)
            .map_err(ApiError::store)?
            .iter()
            .filter_map(|e| {
                let (lat, lon) = e.location?;
                Some(json!({"engineer_id": e.id, "name": e.name, "lat": lat, "lon": lon}))
            })
            .collect(),
        Scope::Tenant(_) => Vec::new(),
    };
    Ok(Json(json!({"sites": sites, "engineers": engineers})))
}
