//! The site map's data: every site the caller may see with its coordinates (inventory
//! `location`), the status of its devices and its open tickets, and the engineers' positions
//! (`positions`: all for the operator, a customer's own ticket's engineer for a customer). The page draws it as its own SVG: no tile server, nothing fetched from
//! elsewhere, so it works offline.

use super::error::ApiError;
use super::positions::marks;
use super::principal::Principal;
use super::reader::Reader;
use super::state::WebState;
use super::views::{status_str, worse_first};
use crate::i18n::Lang;
use crate::store::Scope;
use axum::Json;
use axum::extract::State;
use heartline_proto::DeviceStatus;
use serde_json::{Value, json};
use std::collections::HashMap;

pub async fn map(
    State(state): State<WebState>,
    p: Principal,
    lang: Lang,
) -> Result<Json<Value>, ApiError> {
    let scope = p.scope().ok_or_else(|| ApiError::not_found("err-no-map"))?;
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
        if worse_first(status) < worse_first(entry.1) {
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
    // Engineers are the operator's records; a customer's map names only those of its own open
    // tickets (`positions::marks`), as the ticket itself does.
    let engineers = store.engineers(&Scope::Operator).map_err(ApiError::store)?;
    let zone = Reader::load(store, &p, lang).home;
    let engineers = marks(&state.positions, &scope, &engineers, &tickets, &zone);
    Ok(Json(json!({"sites": sites, "engineers": engineers})))
}
