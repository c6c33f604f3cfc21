//! The JSON API handlers. Each reads through the caller's scope; an object outside it is 404,
//! whatever the URL says. Ticket changes go through the ingest thread like every other input.

use super::error::ApiError;
use super::principal::Principal;
use super::reader::Reader;
use super::state::WebState;
use super::views::{self, ticket_row};
use crate::i18n::{Lang, render};
use crate::live::CommandError;
use crate::store::{Scope, Store};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use heartline_engine::{Actor, DeviceInfo, Ms, Ticket, TicketAction, TicketError};
use serde::Deserialize;
use serde_json::{Value, json};

type Answer = Result<Json<Value>, ApiError>;

pub(crate) fn now_ms() -> Ms {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Ms)
}

fn operator_only(p: &Principal) -> Result<(), ApiError> {
    match p {
        Principal::Operator { .. } => Ok(()),
        _ => Err(ApiError::not_found("err-no-page")),
    }
}

/// A ticket the caller may see: in their tenant, or (engineers) dispatched to them.
pub(crate) fn visible_ticket(
    state: &WebState,
    p: &Principal,
    id: &str,
) -> Result<Ticket, ApiError> {
    let n: u64 = id
        .parse()
        .map_err(|_| ApiError::not_found("err-no-ticket").with("id", id))?;
    let t = match (p.scope(), p) {
        (Some(scope), _) => state.store.ticket(&scope, n).map_err(ApiError::store)?,
        (None, Principal::Engineer { engineer, .. }) => state
            .store
            .ticket(&Scope::Operator, n)
            .map_err(ApiError::store)?
            .filter(|t| t.engineer.as_deref() == Some(engineer.as_str())),
        (None, _) => None,
    };
    t.ok_or_else(|| ApiError::not_found("err-no-ticket").with("id", id))
}

/// A device the caller may see: in their tenant, or (engineers) the device of a ticket of theirs.
pub(crate) fn visible_device(
    state: &WebState,
    p: &Principal,
    id: &str,
) -> Result<DeviceInfo, ApiError> {
    let d = match (p.scope(), p) {
        (Some(scope), _) => state.store.device(&scope, id).map_err(ApiError::store)?,
        (None, Principal::Engineer { engineer, .. }) => {
            let queue = state
                .store
                .engineer_queue(engineer)
                .map_err(ApiError::store)?;
            if queue.iter().any(|t| t.device == id) {
                state
                    .store
                    .device(&Scope::Operator, id)
                    .map_err(ApiError::store)?
            } else {
                None
            }
        }
        (None, _) => None,
    };
    d.ok_or_else(|| ApiError::not_found("err-no-device").with("id", id))
}

/// A refused or failed ticket command as an API error.
pub(crate) fn command_error(e: CommandError) -> ApiError {
    match e {
        CommandError::Refused(TicketError::NoSuchTicket(id))
        | CommandError::Refused(TicketError::NotYours { id, .. }) => {
            ApiError::not_found("err-no-ticket").with("id", id)
        }
        CommandError::Refused(TicketError::NoSuchDevice(id)) => {
            ApiError::not_found("err-no-device").with("id", id)
        }
        CommandError::Refused(TicketError::InvalidTransition {
            id,
            action,
            state,
            hint,
        }) => ApiError::refused(id, action, state, hint),
        CommandError::Store(why) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "err-not-stored").with("detail", why)
        }
        CommandError::Stopped => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "err-stopping"),
        CommandError::Timeout(wait) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "err-timeout")
                .with("wait", format!("{wait:?}"))
        }
    }
}

pub(crate) fn actor(p: &Principal) -> Actor {
    match p {
        Principal::Operator { user } => Actor::Operator(user.clone()),
        Principal::Customer { user, .. } => Actor::Customer(user.clone()),
        Principal::Engineer { engineer, .. } => Actor::Engineer(engineer.clone()),
    }
}

/// A ticket for `reader`: codes for programs, words in the reader's language, local times, and
/// the service-progress tracker.
/// A ticket as the JSON API shows it to `reader`; staff also see how each customer report was
/// classified and why it went to this device.
pub(super) fn ticket_json(t: &Ticket, reader: &Reader, store: &Store) -> Value {
    let (lang, zone) = (reader.lang, reader.zone(&t.tenant));
    let matches = if reader.staff {
        store.report_matches(t.id).unwrap_or_else(|e| {
            tracing::warn!(error = %e, ticket = t.id, "cannot read why its reports were matched");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let mut v = crate::api::convert::ticket_json(t);
    let row = ticket_row(t, now_ms(), reader);
    for (k, x) in [
        ("title", json!(row.title)),
        ("sla", json!(row.sla)),
        ("sla_label", json!(row.sla_label)),
        ("state_label", json!(row.state_label)),
        ("severity_label", json!(row.severity_label)),
        ("opened_local", json!(row.opened_local)),
        ("repair_by_local", json!(row.repair_by_local)),
        ("respond_by_local", json!(zone.format(t.respond_by))),
        ("reason", json!(crate::api::convert::reason(lang, t))),
        ("time_zone", json!(zone.name())),
        ("progress", json!(super::progress::of(t, lang, zone))),
    ] {
        v[k] = x;
    }
    v["timeline"] = t
        .timeline
        .iter()
        .map(|e| {
            let (kind, who) = crate::api::convert::actor(&e.actor);
            let (label, _) = render::actor(lang, &e.actor);
            let (classified, matched) = match &e.what {
                heartline_engine::What::CustomerReport { text } if reader.staff => (
                    Some(render::classification(lang, text)),
                    matches
                        .iter()
                        .find(|(at, _)| *at == e.at)
                        .map(|(_, why)| render::match_reason(lang, why)),
                ),
                _ => (None, None),
            };
            json!({
                "at_ms": e.at,
                "at_local": zone.format(e.at),
                "actor_kind": kind,
                "actor_label": label,
                "actor": who,
                "what": render::entry(lang, zone, e),
                "classified": classified,
                "matched": matched,
            })
        })
        .collect();
    v["rating"] = json!(
        t.rating
            .as_ref()
            .map(|r| json!({"stars": r.stars, "comment": r.comment}))
    );
    v
}

pub async fn me(State(state): State<WebState>, p: Principal, lang: Lang) -> Json<Value> {
    Json(me_value(&state, &p, lang))
}

/// Who the caller is, their language and home time zone (what `/api/v1/me` answers).
pub(crate) fn me_value(state: &WebState, p: &Principal, lang: Lang) -> Value {
    let (tenant, engineer) = match p {
        Principal::Customer { tenant, .. } => (Some(tenant.clone()), None),
        Principal::Engineer { engineer, .. } => (None, Some(engineer.clone())),
        Principal::Operator { .. } => (None, None),
    };
    let reader = Reader::load(&state.store, p, lang);
    json!({
        "user": p.user(), "role": p.role(), "tenant": tenant, "engineer": engineer,
        "lang": lang.tag(), "time_zone": reader.home.name(),
    })
}

pub async fn projects(State(state): State<WebState>, p: Principal) -> Answer {
    let Some(scope) = p.scope() else {
        return Ok(Json(json!([])));
    };
    let list = views::projects(&state.store, &state.live.board, &scope, now_ms())
        .map_err(ApiError::store)?;
    Ok(Json(json!(list)))
}

pub async fn project(
    State(state): State<WebState>,
    p: Principal,
    lang: Lang,
    Path(id): Path<String>,
    Query(q): Query<super::paging::DeviceQuery>,
) -> Answer {
    let scope = p
        .scope()
        .ok_or_else(|| ApiError::not_found("err-no-project").with("id", &id))?;
    let store = &state.store;
    let project = store
        .projects(&scope)
        .map_err(ApiError::store)?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or_else(|| ApiError::not_found("err-no-project").with("id", &id))?;
    let devices: Vec<DeviceInfo> = store
        .devices(&scope)
        .map_err(ApiError::store)?
        .into_iter()
        .filter(|d| d.project == id)
        .collect();
    let tickets: Vec<Ticket> = store
        .tickets(&scope)
        .map_err(ApiError::store)?
        .into_iter()
        .filter(|t| t.project == id)
        .collect();
    let now = now_ms();
    let summary = views::summarize(&project, &devices, &tickets, &state.live.board, now);
    let sites: Vec<Value> = store
        .sites(&scope)
        .map_err(ApiError::store)?
        .into_iter()
        .filter(|s| s.project == id)
        .map(|s| json!({"site_id": s.id, "name": s.name, "region": s.region, "grid_cell": s.grid_cell}))
        .collect();
    let (rows, device_page) = super::paging::rows(&devices, &state.live.board, &q);
    let reader = Reader::load(store, &p, lang);
    let recent: Vec<_> = tickets
        .iter()
        .take(100)
        .map(|t| ticket_row(t, now, &reader))
        .collect();
    Ok(Json(json!({
        "summary": summary,
        "sites": sites,
        "devices": rows,
        "device_page": device_page,
        "tickets": recent,
        "time_zone": reader.zone(&project.tenant).name(),
        "last_event_id": state.live.board.last_number(super::events::numbering(&p)),
    })))
}

pub async fn device(State(state): State<WebState>, p: Principal, Path(id): Path<String>) -> Answer {
    let d = visible_device(&state, &p, &id)?;
    let history = state
        .store
        .history(&Scope::Operator, &d.id, 60)
        .map_err(ApiError::store)?;
    let points: Vec<Value> = history
        .iter()
        .flat_map(|r| {
            r.metrics.iter().map(move |m| {
                json!({"name": m.name, "instance": m.instance, "value": m.value, "at_ms": r.received_at_ms})
            })
        })
        .collect();
    let checks = state
        .store
        .device_state(&Scope::Operator, &d.id)
        .map_err(ApiError::store)?
        .map(|s| {
            s.checks
                .iter()
                .map(|c| json!({"name": c.name, "state": c.state.as_str(), "message": c.message}))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    Ok(Json(json!({
        "device": views::device_row(&d, &state.live.board),
        "project_id": d.project,
        "uplink": d.uplink,
        "checks": checks,
        "metrics": points,
    })))
}

#[derive(Deserialize)]
pub struct TicketQuery {
    pub project: Option<String>,
    #[serde(default)]
    pub open: bool,
}

pub async fn tickets(
    State(state): State<WebState>,
    p: Principal,
    lang: Lang,
    Query(q): Query<TicketQuery>,
) -> Answer {
    let all = match (&p, p.scope()) {
        (_, Some(scope)) => state.store.tickets(&scope).map_err(ApiError::store)?,
        (Principal::Engineer { engineer, .. }, None) => state
            .store
            .engineer_queue(engineer)
            .map_err(ApiError::store)?,
        _ => Vec::new(),
    };
    let now = now_ms();
    let reader = Reader::load(&state.store, &p, lang);
    let rows: Vec<_> = all
        .iter()
        .filter(|t| q.project.as_ref().is_none_or(|p| &t.project == p))
        .filter(|t| !q.open || !t.state.is_terminal())
        .map(|t| ticket_row(t, now, &reader))
        .collect();
    Ok(Json(json!(rows)))
}

pub async fn ticket(
    State(state): State<WebState>,
    p: Principal,
    lang: Lang,
    Path(id): Path<String>,
) -> Answer {
    let t = visible_ticket(&state, &p, &id)?;
    Ok(Json(ticket_json(
        &t,
        &Reader::load(&state.store, &p, lang),
        &state.store,
    )))
}

#[derive(Deserialize, Default)]
pub struct NoteForm {
    #[serde(default)]
    pub text: String,
}

async fn act(
    state: &WebState,
    (p, lang): (&Principal, Lang),
    id: &str,
    action: TicketAction,
) -> Answer {
    let t = visible_ticket(state, p, id)?;
    let t = state
        .live
        .act(t.id, action, actor(p))
        .await
        .map_err(command_error)?;
    Ok(Json(ticket_json(
        &t,
        &Reader::load(&state.store, p, lang),
        &state.store,
    )))
}

pub async fn comment(
    State(state): State<WebState>,
    p: Principal,
    lang: Lang,
    Path(id): Path<String>,
    Json(form): Json<NoteForm>,
) -> Answer {
    if form.text.trim().is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "err-empty-comment"));
    }
    act(
        &state,
        (&p, lang),
        &id,
        TicketAction::Note {
            text: form.text.trim().to_string(),
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct RateForm {
    pub stars: u8,
    #[serde(default)]
    pub comment: String,
}

pub async fn rate(
    State(state): State<WebState>,
    p: Principal,
    lang: Lang,
    Path(id): Path<String>,
    Json(form): Json<RateForm>,
) -> Answer {
    if !matches!(p, Principal::Customer { .. }) {
        visible_ticket(&state, &p, &id)?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "err-rate-customer-only",
        ));
    }
    let action = TicketAction::Rate {
        stars: form.stars,
        comment: form.comment.trim().to_string(),
    };
    act(&state, (&p, lang), &id, action).await
}

/// Engineer actions; anyone else gets 404 (the ticket is not in their queue).
async fn engineer_act(
    state: &WebState,
    (p, lang): (&Principal, Lang),
    id: &str,
    action: TicketAction,
) -> Answer {
    if !matches!(p, Principal::Engineer { .. }) {
        return Err(ApiError::not_found("err-not-in-queue").with("id", id));
    }
    act(state, (p, lang), id, action).await
}

pub async fn accept(
    State(s): State<WebState>,
    p: Principal,
    lang: Lang,
    Path(id): Path<String>,
) -> Answer {
    engineer_act(&s, (&p, lang), &id, TicketAction::Accept).await
}

pub async fn onsite(
    State(s): State<WebState>,
    p: Principal,
    lang: Lang,
    Path(id): Path<String>,
) -> Answer {
    engineer_act(&s, (&p, lang), &id, TicketAction::OnSite).await
}

pub async fn decline(
    State(s): State<WebState>,
    p: Principal,
    lang: Lang,
    Path(id): Path<String>,
    Json(form): Json<NoteForm>,
) -> Answer {
    if form.text.trim().is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "err-decline-why"));
    }
    let reason = form.text.trim().to_string();
    engineer_act(&s, (&p, lang), &id, TicketAction::Decline { reason }).await
}

pub async fn resolve(
    State(s): State<WebState>,
    p: Principal,
    lang: Lang,
    Path(id): Path<String>,
    body: Option<Json<NoteForm>>,
) -> Answer {
    let note = body
        .map(|Json(f)| f.text.trim().to_string())
        .unwrap_or_default();
    engineer_act(&s, (&p, lang), &id, TicketAction::Resolve { note }).await
}

pub async fn tenants(State(state): State<WebState>, p: Principal) -> Answer {
    operator_only(&p)?;
    let tenants = state
        .store
        .tenants(&Scope::Operator)
        .map_err(ApiError::store)?;
    let projects = views::projects(&state.store, &state.live.board, &Scope::Operator, now_ms())
        .map_err(ApiError::store)?;
    let list: Vec<Value> = tenants
        .into_iter()
        .map(|t| {
            let mine: Vec<_> = projects.iter().filter(|p| p.tenant_id == t.id).collect();
            json!({"tenant_id": t.id, "name": t.name, "projects": mine})
        })
        .collect();
    Ok(Json(json!(list)))
}

#[derive(Deserialize)]
pub struct KpiQuery {
    #[serde(default = "day")]
    pub period: String,
}

fn day() -> String {
    "day".into()
}

fn kpi_rows(
    state: &WebState,
    p: &Principal,
    q: &KpiQuery,
) -> Result<Vec<super::kpi::Kpi>, ApiError> {
    operator_only(p)?;
    let period = super::kpi::Period::parse(&q.period)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "err-kpi-period"))?;
    let tickets = state
        .store
        .tickets(&Scope::Operator)
        .map_err(ApiError::store)?;
    // Each ticket counts in its tenant's local day, week and month.
    let reader = Reader::load(&state.store, p, Lang::default());
    Ok(super::kpi::board(&tickets, period, &reader.zones()))
}

pub async fn kpi(State(state): State<WebState>, p: Principal, Query(q): Query<KpiQuery>) -> Answer {
    Ok(Json(json!(kpi_rows(&state, &p, &q)?)))
}

pub async fn kpi_csv(
    State(state): State<WebState>,
    p: Principal,
    Query(q): Query<KpiQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let rows = kpi_rows(&state, &p, &q)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"heartline-kpi-{}.csv\"", q.period),
            ),
        ],
        super::kpi::csv(&rows),
    ))
}
