//! Engineers' positions, as they report them from the phone page (`POST
//! /api/v1/engineer/position`, from the browser's own geolocation: no external service). Kept in
//! memory: a position is news for minutes, not a record, and a restart forgets it. The site map
//! shows them to the operator's staff, and to a customer only the engineer of one of its own
//! open tickets. A fix older than `[http] position_stale` is marked stale.

use super::error::ApiError;
use super::json::now_ms;
use super::principal::Principal;
use super::state::WebState;
use crate::localtime::Zone;
use crate::store::{EngineerRecord, Scope};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use heartline_engine::{Ms, Ticket};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::RwLock;

/// One reported position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub lat: f64,
    pub lon: f64,
    /// The browser's accuracy radius, metres.
    pub accuracy_m: f64,
    pub at: Ms,
}

/// The latest fix of each engineer.
#[derive(Debug, Default)]
pub struct Positions {
    fixes: RwLock<HashMap<String, Fix>>,
    /// A fix older than this is stale.
    pub stale_after: Ms,
}

impl Positions {
    pub fn new(stale_after: Ms) -> Positions {
        Positions {
            fixes: RwLock::default(),
            stale_after,
        }
    }

    fn set(&self, engineer: &str, fix: Fix) {
        let mut fixes = self.fixes.write().unwrap_or_else(|e| e.into_inner());
        fixes.insert(engineer.to_string(), fix);
    }

    pub fn get(&self, engineer: &str) -> Option<Fix> {
        let fixes = self.fixes.read().unwrap_or_else(|e| e.into_inner());
        fixes.get(engineer).copied()
    }
}

#[derive(Deserialize)]
pub struct PositionForm {
    pub lat: f64,
    pub lon: f64,
    #[serde(default)]
    pub accuracy_m: f64,
}

/// Refuses what no phone reports: out of range, not a number, or a radius over 100 km.
fn check(form: &PositionForm) -> bool {
    form.lat.is_finite()
        && form.lon.is_finite()
        && form.accuracy_m.is_finite()
        && (-90.0..=90.0).contains(&form.lat)
        && (-180.0..=180.0).contains(&form.lon)
        && (0.0..=100_000.0).contains(&form.accuracy_m)
}

pub async fn report_position(
    State(state): State<WebState>,
    p: Principal,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // The caller first: anyone but an engineer gets the 404 of a page that is not there,
    // whatever the body.
    let Principal::Engineer { engineer, .. } = &p else {
        return Err(ApiError::not_found("err-no-page"));
    };
    let form = serde_json::from_slice::<PositionForm>(&body)
        .ok()
        .filter(check)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "err-position"))?;
    let fix = Fix {
        lat: form.lat,
        lon: form.lon,
        accuracy_m: form.accuracy_m,
        at: now_ms(),
    };
    state.positions.set(engineer, fix);
    Ok(Json(json!({
        "engineer_id": engineer, "lat": fix.lat, "lon": fix.lon,
        "accuracy_m": fix.accuracy_m, "at_ms": fix.at,
    })))
}

/// The engineers' marks `scope` may see on the map, times in `zone`: for the operator every
/// engineer with a reported fix, else the inventory's base location; for a customer only the
/// engineers of its own open tickets (`tickets`, read through its scope) that reported a fix.
pub fn marks(
    positions: &Positions,
    scope: &Scope,
    engineers: &[EngineerRecord],
    tickets: &[Ticket],
    zone: &Zone,
) -> Vec<Value> {
    let now = now_ms();
    engineers
        .iter()
        .filter(|e| match scope {
            Scope::Operator => true,
            Scope::Tenant(tenant) => tickets.iter().any(|t| {
                &t.tenant == tenant
                    && !t.state.is_terminal()
                    && t.engineer.as_deref() == Some(e.id.as_str())
            }),
        })
        .filter_map(|e| match (positions.get(&e.id), scope) {
            (Some(f), _) => Some(json!({
                "engineer_id": e.id, "name": e.name, "lat": f.lat, "lon": f.lon,
                "accuracy_m": f.accuracy_m, "reported": true, "at_ms": f.at,
                "at_local": zone.format(f.at),
                "stale": now.saturating_sub(f.at) > positions.stale_after,
            })),
            (None, Scope::Operator) => {
                let (lat, lon) = e.location?;
                Some(json!({
                    "engineer_id": e.id, "name": e.name, "lat": lat, "lon": lon,
                    "reported": false, "stale": false,
                }))
            }
            (None, Scope::Tenant(_)) => None,
        })
        .collect()
}
