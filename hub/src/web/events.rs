//! `GET /api/v1/events`: the caller's share of what changes in the hub, as Server-Sent Events
//! (`event: change`, `id:` = the change's number in the caller's numbering — its tenant's for a
//! customer, see [`Numbering`] — data = which project and object changed).
//! A page that reconnects sends `Last-Event-ID` and first gets what it missed; when that is no
//! longer kept it gets `event: reload`.

use super::principal::Principal;
use super::state::WebState;
use crate::live::{Change, Numbering};
use crate::store::Scope;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

#[derive(serde::Deserialize)]
pub struct Resume {
    pub last_event_id: Option<u64>,
}

/// Whether the caller may hear of this change.
fn visible(state: &WebState, p: &Principal, c: &Change) -> bool {
    match p {
        Principal::Operator { .. } => true,
        Principal::Customer { tenant, .. } => &c.tenant == tenant,
        Principal::Engineer { engineer, .. } => {
            c.kind == "ticket"
                && c.id.parse::<u64>().is_ok_and(|id| {
                    state
                        .store
                        .ticket(&Scope::Operator, id)
                        .ok()
                        .flatten()
                        .is_some_and(|t| t.engineer.as_deref() == Some(engineer.as_str()))
                })
        }
    }
}

/// How `p`'s event ids count.
pub fn numbering(p: &Principal) -> Numbering<'_> {
    match p {
        Principal::Customer { tenant, .. } => Numbering::Tenant(tenant),
        Principal::Operator { .. } | Principal::Engineer { .. } => Numbering::All,
    }
}

fn event(c: &Change, n: Numbering) -> Event {
    Event::default()
        .event("change")
        .id(c.number(n).to_string())
        .data(serde_json::to_string(c).unwrap_or_default())
}

pub async fn stream(
    State(state): State<WebState>,
    p: Principal,
    headers: HeaderMap,
    Query(q): Query<Resume>,
) -> Response {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(q.last_event_id);
    let (tx, rx) = mpsc::channel::<Event>(256);
    let (mut changes, missed) = match after {
        Some(after) => state.live.board.watch_from(after, numbering(&p)),
        None => state.live.board.watch_from(u64::MAX - 1, numbering(&p)),
    };
    let mut closing = state.closing.clone();
    tokio::spawn(async move {
        match missed {
            Some(missed) => {
                for c in missed.iter().filter(|c| visible(&state, &p, c)) {
                    if tx.send(event(c, numbering(&p))).await.is_err() {
                        return;
                    }
                }
            }
            None => {
                let reload = Event::default().event("reload").data("{}");
                if tx.send(reload).await.is_err() {
                    return;
                }
            }
        }
        loop {
            let next = tokio::select! {
                c = changes.recv() => c,
                _ = closing.wait_for(|c| *c) => return,
            };
            let ev = match next {
                Ok(c) if visible(&state, &p, &c) => event(&c, numbering(&p)),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Event::default().event("reload").data("{}")
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    use tokio_stream::StreamExt;
    let stream = ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
