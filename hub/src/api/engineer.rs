//! The field engineer's API: the live queue (gRPC `WatchAssignments` and the same as SSE at
//! `GET /api/v1/engineer/assignments`) and the ticket actions (accept, decline, on site, note,
//! resolve, hand over). An engineer sees and acts on only the tickets dispatched to them.

use super::auth::{self, AuthError};
use super::convert;
use super::state::ApiState;
use crate::live::CommandError;
use crate::store::{EngineerRecord, Scope};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use heartline_engine::{Actor, Ticket, TicketAction, TicketError};
use heartline_proto::wire;
use heartline_proto::wire::engineer_service_server::EngineerService;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response as GrpcResponse, Status};

/// One engineer's queue as it changes: first every unfinished ticket dispatched to them, then
/// each committed change to a ticket that is (or just stopped being) theirs. A watcher that falls
/// behind gets the whole queue again.
pub fn queue_stream(state: &ApiState, engineer: String) -> mpsc::Receiver<Arc<Ticket>> {
    let (tx, rx) = mpsc::channel(256);
    // Subscribe before reading the queue, so that nothing committed in between is missed.
    let mut changes = state.live.watch();
    let store = state.store.clone();
    let mut closing = state.closing.clone();
    tokio::spawn(async move {
        let mut mine: HashSet<u64> = HashSet::new();
        let mut reload = true;
        loop {
            if reload {
                reload = false;
                let queue = match store.engineer_queue(&engineer) {
                    Ok(q) => q,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read an engineer's queue");
                        return;
                    }
                };
                mine = queue.iter().map(|t| t.id).collect();
                for t in queue {
                    if tx.send(Arc::new(t)).await.is_err() {
                        return;
                    }
                }
            }
            let change = tokio::select! {
                c = changes.recv() => c,
                _ = closing.wait_for(|c| *c) => return,
            };
            match change {
                Ok(t) => {
                    let is_mine =
                        t.engineer.as_deref() == Some(engineer.as_str()) && !t.state.is_terminal();
                    let was_mine = if is_mine {
                        !mine.insert(t.id)
                    } else {
                        mine.remove(&t.id)
                    };
                    if (is_mine || was_mine) && tx.send(t).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => reload = true,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    rx
}

pub struct EngineerApi {
    state: ApiState,
}

impl EngineerApi {
    pub fn new(state: ApiState) -> EngineerApi {
        EngineerApi { state }
    }

    fn caller<T>(&self, req: &Request<T>) -> Result<EngineerRecord, Status> {
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        Ok(auth::engineer(&self.state.store, header)?)
    }

    async fn act(
        &self,
        req: Request<wire::TicketActionRequest>,
        action: impl FnOnce(&wire::TicketActionRequest) -> Result<TicketAction, Status>,
    ) -> Result<GrpcResponse<wire::Ticket>, Status> {
        let me = self.caller(&req)?;
        let body = req.into_inner();
        let id: u64 = body.ticket_id.trim().parse().map_err(|_| {
            Status::invalid_argument(format!(
                "ticket_id {:?} is not a ticket number",
                body.ticket_id
            ))
        })?;
        let action = action(&body)?;
        let ticket = self
            .state
            .live
            .act(id, action, Actor::Engineer(me.id))
            .await
            .map_err(status)?;
        Ok(GrpcResponse::new(convert::ticket(&ticket)))
    }
}

/// A refused action as a gRPC status: tickets outside the caller's queue do not exist for them.
/// gRPC status messages stay in English: their readers are engineers at the CLI.
fn status(e: CommandError) -> Status {
    match e {
        CommandError::Refused(TicketError::NoSuchTicket(id))
        | CommandError::Refused(TicketError::NotYours { id, .. }) => {
            Status::not_found(format!("ticket {id} is not in your queue"))
        }
        CommandError::Refused(e @ TicketError::NoSuchDevice(_)) => Status::not_found(e.to_string()),
        CommandError::Refused(e @ TicketError::InvalidTransition { .. }) => {
            Status::failed_precondition(e.to_string())
        }
        CommandError::Store(_) | CommandError::Stopped | CommandError::Timeout(_) => {
            Status::unavailable(e.to_string())
        }
    }
}

#[tonic::async_trait]
impl EngineerService for EngineerApi {
    type WatchAssignmentsStream = tokio_stream::adapters::Map<
        ReceiverStream<Arc<Ticket>>,
        fn(Arc<Ticket>) -> Result<wire::Assignment, Status>,
    >;

    async fn watch_assignments(
        &self,
        req: Request<wire::WatchAssignmentsRequest>,
    ) -> Result<GrpcResponse<Self::WatchAssignmentsStream>, Status> {
        use tokio_stream::StreamExt;
        let me = self.caller(&req)?;
        let rx = queue_stream(&self.state, me.id);
        let to_assignment: fn(Arc<Ticket>) -> Result<wire::Assignment, Status> = |t| {
            Ok(wire::Assignment {
                reason: convert::reason(crate::i18n::Lang::En, &t),
                ticket: Some(convert::ticket(&t)),
            })
        };
        Ok(GrpcResponse::new(
            ReceiverStream::new(rx).map(to_assignment),
        ))
    }

    async fn accept(
        &self,
        req: Request<wire::TicketActionRequest>,
    ) -> Result<GrpcResponse<wire::Ticket>, Status> {
        self.act(req, |_| Ok(TicketAction::Accept)).await
    }

    async fn decline(
        &self,
        req: Request<wire::TicketActionRequest>,
    ) -> Result<GrpcResponse<wire::Ticket>, Status> {
        self.act(req, |b| {
            if b.note.trim().is_empty() {
                return Err(Status::invalid_argument(
                    "say why you decline in `note`: it goes into the ticket's timeline",
                ));
            }
            Ok(TicketAction::Decline {
                reason: b.note.trim().to_string(),
            })
        })
        .await
    }

    async fn on_site(
        &self,
        req: Request<wire::TicketActionRequest>,
    ) -> Result<GrpcResponse<wire::Ticket>, Status> {
        self.act(req, |_| Ok(TicketAction::OnSite)).await
    }

    async fn add_note(
        &self,
        req: Request<wire::TicketActionRequest>,
    ) -> Result<GrpcResponse<wire::Ticket>, Status> {
        self.act(req, |b| {
            if b.note.trim().is_empty() {
                return Err(Status::invalid_argument("the note is empty"));
            }
            Ok(TicketAction::Note {
                text: b.note.trim().to_string(),
            })
        })
        .await
    }

    async fn resolve(
        &self,
        req: Request<wire::TicketActionRequest>,
    ) -> Result<GrpcResponse<wire::Ticket>, Status> {
        self.act(req, |b| {
            Ok(TicketAction::Resolve {
                note: b.note.trim().to_string(),
            })
        })
        .await
    }

    async fn hand_over(
        &self,
        req: Request<wire::TicketActionRequest>,
    ) -> Result<GrpcResponse<wire::Ticket>, Status> {
        let engineers = self
            .state
            .store
            .engineers(&Scope::Operator)
            .map_err(|e| Status::unavailable(e.to_string()))?;
        self.act(req, |b| {
            let to = b.to_engineer_id.trim();
            if !engineers.iter().any(|e| e.id == to) {
                return Err(Status::invalid_argument(format!(
                    "to_engineer_id {to:?} is not an engineer of this hub"
                )));
            }
            Ok(TicketAction::Handover { to: to.to_string() })
        })
        .await
    }
}

/// `GET /api/v1/engineer/assignments`: the queue as Server-Sent Events (`event: assignment`,
/// data = the ticket as JSON).
pub fn sse_router(state: ApiState) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/engineer/assignments", get(assignments_sse))
        .with_state(state)
}

async fn assignments_sse(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let me = match auth::engineer(&state.store, header) {
        Ok(me) => me,
        Err(e @ AuthError::Store(_)) => {
            return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
        }
        Err(e) => return (StatusCode::UNAUTHORIZED, e.to_string()).into_response(),
    };
    use tokio_stream::StreamExt;
    let events = ReceiverStream::new(queue_stream(&state, me.id)).map(|t| {
        Ok::<_, std::convert::Infallible>(
            Event::default()
                .event("assignment")
                .id(format!("{}-{}", t.id, t.updated_at))
                .data(convert::ticket_json(&t).to_string()),
        )
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
