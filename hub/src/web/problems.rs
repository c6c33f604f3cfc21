//! A customer's problem report (`POST /api/v1/projects/{project}/report`): its class from the
//! words (`classify`), and the device or open ticket it is about — the device the customer chose,
//! or one found in the text among the customer's own project's devices, sites and open tickets
//! (`classify::matching`), read through the customer's scope so another tenant's device is never
//! a candidate. The reason is kept (`store::reports`) and shown to staff with the ticket.

use super::error::ApiError;
use super::json::{command_error, ticket_json, visible_device};
use super::principal::Principal;
use super::reader::Reader;
use super::state::WebState;
use crate::classify::matching::{self, Candidates, Match, Reason};
use crate::i18n::{Lang, render, t};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use heartline_engine::What;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub struct ProblemForm {
    /// The device the customer chose; none: found from the text.
    #[serde(default)]
    pub device: Option<String>,
    pub text: String,
}

/// The device `p` (a customer) means in `project`: the one chosen, or the one the text names.
fn target(
    state: &WebState,
    p: &Principal,
    project: &str,
    form: &ProblemForm,
) -> Result<Match, ApiError> {
    let scope = p
        .scope()
        .ok_or_else(|| ApiError::not_found("err-no-page"))?;
    if let Some(id) = form.device.as_deref().filter(|d| !d.trim().is_empty()) {
        let d = visible_device(state, p, id)?;
        if d.project != project {
            return Err(ApiError::not_found("err-no-device-in-project")
                .with("id", id)
                .with("project", project));
        }
        return Ok(Match {
            reason: Reason::Chosen {
                device: d.id.clone(),
            },
            device: d.id,
            ticket: None,
        });
    }
    let store = &state.store;
    let visible = store.projects(&scope).map_err(ApiError::store)?;
    if !visible.iter().any(|x| x.id == project) {
        return Err(ApiError::not_found("err-no-project").with("id", project));
    }
    let devices: Vec<_> = store
        .devices(&scope)
        .map_err(ApiError::store)?
        .into_iter()
        .filter(|d| d.project == project)
        .collect();
    let sites: Vec<_> = store
        .sites(&scope)
        .map_err(ApiError::store)?
        .into_iter()
        .filter(|s| s.project == project)
        .collect();
    let open: Vec<_> = store
        .tickets(&scope)
        .map_err(ApiError::store)?
        .into_iter()
        .filter(|t| t.project == project && !t.state.is_terminal())
        .collect();
    let verdict = crate::classify::classify(&form.text);
    let candidates = Candidates {
        devices: &devices,
        sites: &sites,
        open: &open,
    };
    matching::find(&form.text, &verdict, &candidates)
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "err-report-unmatched"))
}

pub async fn report_problem(
    State(state): State<WebState>,
    p: Principal,
    lang: Lang,
    Path(project): Path<String>,
    Json(form): Json<ProblemForm>,
) -> Result<Json<Value>, ApiError> {
    let Principal::Customer { user, .. } = &p else {
        return Err(ApiError::not_found("err-no-page"));
    };
    if form.text.trim().is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "err-empty-text"));
    }
    let m = target(&state, &p, &project, &form)?;
    let text = form.text.trim().to_string();
    let ticket = state
        .live
        .report(m.device.clone(), text.clone(), user.clone())
        .await
        .map_err(command_error)?;
    // The report's own timeline entry: the last one with its text.
    let at = ticket.timeline.iter().rev().find_map(|e| match &e.what {
        What::CustomerReport { text: said } if *said == text => Some(e.at),
        _ => None,
    });
    if let Some(at) = at
        && let Err(e) = state.store.put_report_match(ticket.id, at, &m.reason)
    {
        tracing::warn!(error = %e, ticket = ticket.id, "cannot keep why the report went to its device");
    }
    let mut v = ticket_json(&ticket, &Reader::load(&state.store, &p, lang), &state.store);
    let verdict = crate::classify::classify(&form.text);
    v["classification"] = json!({
        "class": verdict.class,
        "label": t(lang, verdict.class.message_id(), &[]),
    });
    v["matched"] = json!({
        "device": m.device,
        "reason": render::match_reason(lang, &m.reason),
    });
    Ok(Json(v))
}
