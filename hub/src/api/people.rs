//! The gRPC services for customers and the operator: project status (get and a live stream),
//! tickets (list, get, comment, rate), devices (list, get with recent health) and administration
//! (tenants, maintenance windows). Same principals, scopes and 404-outside-scope rule as the JSON
//! API, whose helpers they share.

use crate::i18n::Lang;
use crate::store::Scope;
use crate::web::principal::Principal;
use crate::web::session::by_token;
use crate::web::{ApiError, WebState, json, views};
use heartline_engine::{Maintenance, TicketAction};
use heartline_proto::wire;
use heartline_proto::wire::admin_service_server::AdminService;
use heartline_proto::wire::device_service_server::DeviceService;
use heartline_proto::wire::project_status_service_server::ProjectStatusService;
use heartline_proto::wire::ticket_service_server::TicketService;
use std::collections::HashSet;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct PeopleApi {
    web: WebState,
}

impl PeopleApi {
    pub fn new(web: WebState) -> PeopleApi {
        PeopleApi { web }
    }

    fn caller<T>(&self, req: &Request<T>) -> Result<Principal, Status> {
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let token = super::auth::bearer(header)?;
        by_token(&self.web, token)
            .map_err(status)?
            .ok_or_else(|| Status::from(super::auth::AuthError::Invalid))
    }
}

impl PeopleApi {
    /// Administration is the operator's; for anyone else it does not exist.
    fn operator<T>(&self, req: &Request<T>) -> Result<(), Status> {
        match self.caller(req)? {
            Principal::Operator { .. } => Ok(()),
            _ => Err(Status::not_found("no such service for you")),
        }
    }
}

/// An API error as a gRPC status. gRPC status messages stay in English: their readers are
/// engineers at the CLI, not the customers the web view's languages are for.
fn status(e: ApiError) -> Status {
    use axum::http::StatusCode;
    let message = e.message(Lang::En);
    match e.status {
        StatusCode::NOT_FOUND => Status::not_found(message),
        StatusCode::UNAUTHORIZED => Status::unauthenticated(message),
        StatusCode::FORBIDDEN => Status::permission_denied(message),
        StatusCode::CONFLICT => Status::failed_precondition(message),
        StatusCode::BAD_REQUEST => Status::invalid_argument(message),
        _ => Status::unavailable(message),
    }
}

fn store_err(e: crate::store::StoreError) -> Status {
    status(ApiError::store(e))
}

fn project_status(p: &views::ProjectSummary) -> wire::ProjectStatus {
    wire::ProjectStatus {
        project_id: p.project_id.clone(),
        tenant_id: p.tenant_id.clone(),
        name: p.name.clone(),
        devices_ok: p.devices.ok,
        devices_warning: p.devices.warning,
        devices_down: p.devices.down,
        devices_affected: p.devices.affected,
        open_tickets: p.open_tickets,
        sla_at_risk: p.sla_at_risk,
        updated_ms: json::now_ms(),
    }
}

/// The summaries the caller may see, optionally only `wanted`.
fn summaries(
    web: &WebState,
    p: &Principal,
    wanted: &HashSet<String>,
) -> Result<Vec<views::ProjectSummary>, Status> {
    let Some(scope) = p.scope() else {
        return Ok(Vec::new());
    };
    Ok(
        views::projects(&web.store, &web.live.board, &scope, json::now_ms())
            .map_err(store_err)?
            .into_iter()
            .filter(|s| wanted.is_empty() || wanted.contains(&s.project_id))
            .collect(),
    )
}

#[tonic::async_trait]
impl ProjectStatusService for PeopleApi {
    type WatchProjectStatusStream = ReceiverStream<Result<wire::ProjectStatus, Status>>;

    async fn get_project_status(
        &self,
        req: Request<wire::GetProjectStatusRequest>,
    ) -> Result<Response<wire::ProjectStatus>, Status> {
        let p = self.caller(&req)?;
        let id = req.into_inner().project_id;
        let wanted = HashSet::from([id.clone()]);
        summaries(&self.web, &p, &wanted)?
            .first()
            .map(|s| Response::new(project_status(s)))
            .ok_or_else(|| Status::not_found(format!("project {id} not found")))
    }

    async fn watch_project_status(
        &self,
        req: Request<wire::WatchProjectStatusRequest>,
    ) -> Result<Response<Self::WatchProjectStatusStream>, Status> {
        let p = self.caller(&req)?;
        let wanted: HashSet<String> = req.into_inner().project_ids.into_iter().collect();
        let web = self.web.clone();
        let (mut changes, _) = web
            .live
            .board
            .watch_from(u64::MAX - 1, crate::live::Numbering::All);
        let first = summaries(&web, &p, &wanted)?;
        if !wanted.is_empty() && first.len() != wanted.len() {
            return Err(Status::not_found("one of the projects was not found"));
        }
        let (tx, rx) = mpsc::channel(64);
        let mut closing = web.closing.clone();
        tokio::spawn(async move {
            for s in &first {
                if tx.send(Ok(project_status(s))).await.is_err() {
                    return;
                }
            }
            let mine: HashSet<String> = first.into_iter().map(|s| s.project_id).collect();
            loop {
                let change = tokio::select! {
                    c = changes.recv() => c,
                    _ = closing.wait_for(|c| *c) => return,
                };
                let project = match change {
                    Ok(c) if mine.contains(&c.project) => c.project,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Ok(now) = summaries(&web, &p, &HashSet::from([project])) else {
                    return;
                };
                for s in &now {
                    if tx.send(Ok(project_status(s))).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[tonic::async_trait]
impl TicketService for PeopleApi {
    async fn list_tickets(
        &self,
        req: Request<wire::ListTicketsRequest>,
    ) -> Result<Response<wire::ListTicketsResponse>, Status> {
        let p = self.caller(&req)?;
        let q = req.into_inner();
        let all = match (&p, p.scope()) {
            (_, Some(scope)) => self.web.store.tickets(&scope).map_err(store_err)?,
            (Principal::Engineer { engineer, .. }, None) => {
                self.web.store.engineer_queue(engineer).map_err(store_err)?
            }
            _ => Vec::new(),
        };
        let limit = if q.limit == 0 {
            usize::MAX
        } else {
            q.limit as usize
        };
        let tickets = all
            .iter()
            .filter(|t| q.project_id.is_empty() || t.project == q.project_id)
            .filter(|t| !q.open_only || !t.state.is_terminal())
            .take(limit)
            .map(super::convert::ticket)
            .collect();
        Ok(Response::new(wire::ListTicketsResponse { tickets }))
    }

    async fn get_ticket(
        &self,
        req: Request<wire::GetTicketRequest>,
    ) -> Result<Response<wire::Ticket>, Status> {
        let p = self.caller(&req)?;
        let t = json::visible_ticket(&self.web, &p, &req.into_inner().ticket_id).map_err(status)?;
        Ok(Response::new(super::convert::ticket(&t)))
    }

    async fn comment_ticket(
        &self,
        req: Request<wire::CommentTicketRequest>,
    ) -> Result<Response<wire::Ticket>, Status> {
        let p = self.caller(&req)?;
        let body = req.into_inner();
        if body.text.trim().is_empty() {
            return Err(Status::invalid_argument("the comment is empty"));
        }
        let t = json::visible_ticket(&self.web, &p, &body.ticket_id).map_err(status)?;
        let action = TicketAction::Note {
            text: body.text.trim().to_string(),
        };
        let t = self
            .web
            .live
            .act(t.id, action, json::actor(&p))
            .await
            .map_err(|e| status(json::command_error(e)))?;
        Ok(Response::new(super::convert::ticket(&t)))
    }

    async fn rate_ticket(
        &self,
        req: Request<wire::RateTicketRequest>,
    ) -> Result<Response<wire::Ticket>, Status> {
        let p = self.caller(&req)?;
        let body = req.into_inner();
        let t = json::visible_ticket(&self.web, &p, &body.ticket_id).map_err(status)?;
        if !matches!(p, Principal::Customer { .. }) {
            return Err(Status::permission_denied(
                "only the customer rates a ticket",
            ));
        }
        let action = TicketAction::Rate {
            stars: body.stars.min(255) as u8,
            comment: body.comment.trim().to_string(),
        };
        let t = self
            .web
            .live
            .act(t.id, action, json::actor(&p))
            .await
            .map_err(|e| status(json::command_error(e)))?;
        Ok(Response::new(super::convert::ticket(&t)))
    }
}

fn device_summary(web: &WebState, d: &heartline_engine::DeviceInfo) -> wire::DeviceSummary {
    let view = web.live.board.device(&d.id);
    let status = view.map_or(heartline_proto::DeviceStatus::Unknown, |v| v.status);
    wire::DeviceSummary {
        device_id: d.id.clone(),
        tenant_id: d.tenant.clone(),
        project_id: d.project.clone(),
        site_id: d.site.clone(),
        kind: d.kind.clone(),
        status: status as i32,
        last_report_ms: view.map_or(0, |v| v.last_report_ms),
    }
}

#[tonic::async_trait]
impl DeviceService for PeopleApi {
    async fn list_devices(
        &self,
        req: Request<wire::ListDevicesRequest>,
    ) -> Result<Response<wire::ListDevicesResponse>, Status> {
        let p = self.caller(&req)?;
        let project = req.into_inner().project_id;
        let devices = match p.scope() {
            Some(scope) => self.web.store.devices(&scope).map_err(store_err)?,
            None => Vec::new(),
        };
        let devices = devices
            .iter()
            .filter(|d| project.is_empty() || d.project == project)
            .map(|d| device_summary(&self.web, d))
            .collect();
        Ok(Response::new(wire::ListDevicesResponse { devices }))
    }

    async fn get_device(
        &self,
        req: Request<wire::GetDeviceRequest>,
    ) -> Result<Response<wire::DeviceDetail>, Status> {
        let p = self.caller(&req)?;
        let body = req.into_inner();
        let d = json::visible_device(&self.web, &p, &body.device_id).map_err(status)?;
        let history = self
            .web
            .store
            .history(
                &Scope::Operator,
                &d.id,
                body.history.clamp(1, 1000) as usize,
            )
            .map_err(store_err)?;
        let recent = history
            .iter()
            .flat_map(|r| {
                r.metrics.iter().map(move |m| wire::MetricPoint {
                    name: m.name.clone(),
                    instance: m.instance.clone(),
                    value: m.value,
                    at_ms: r.received_at_ms,
                })
            })
            .collect();
        Ok(Response::new(wire::DeviceDetail {
            summary: Some(device_summary(&self.web, &d)),
            recent,
        }))
    }
}

#[tonic::async_trait]
impl AdminService for PeopleApi {
    async fn list_tenants(
        &self,
        req: Request<wire::ListTenantsRequest>,
    ) -> Result<Response<wire::ListTenantsResponse>, Status> {
        self.operator(&req)?;
        let tenants = self
            .web
            .store
            .tenants(&Scope::Operator)
            .map_err(store_err)?
            .into_iter()
            .map(|t| wire::Tenant {
                tenant_id: t.id,
                name: t.name,
            })
            .collect();
        Ok(Response::new(wire::ListTenantsResponse { tenants }))
    }

    async fn list_projects(
        &self,
        req: Request<wire::ListProjectsRequest>,
    ) -> Result<Response<wire::ListProjectsResponse>, Status> {
        self.operator(&req)?;
        let tenant = req.into_inner().tenant_id;
        let projects = self
            .web
            .store
            .projects(&Scope::Operator)
            .map_err(store_err)?
            .into_iter()
            .filter(|p| tenant.is_empty() || p.tenant == tenant)
            .map(|p| wire::Project {
                project_id: p.id,
                tenant_id: p.tenant,
                name: p.name,
            })
            .collect();
        Ok(Response::new(wire::ListProjectsResponse { projects }))
    }

    async fn list_sites(
        &self,
        req: Request<wire::ListSitesRequest>,
    ) -> Result<Response<wire::ListSitesResponse>, Status> {
        self.operator(&req)?;
        let project = req.into_inner().project_id;
        let sites = self
            .web
            .store
            .sites(&Scope::Operator)
            .map_err(store_err)?
            .into_iter()
            .filter(|s| project.is_empty() || s.project == project)
            .map(|s| wire::Site {
                site_id: s.id,
                project_id: s.project,
                tenant_id: s.tenant,
                name: s.name,
                region: s.region,
                grid_cell: s.grid_cell,
            })
            .collect();
        Ok(Response::new(wire::ListSitesResponse { sites }))
    }

    async fn list_engineers(
        &self,
        req: Request<wire::ListEngineersRequest>,
    ) -> Result<Response<wire::ListEngineersResponse>, Status> {
        self.operator(&req)?;
        let store = &self.web.store;
        let engineers = store
            .engineers(&Scope::Operator)
            .map_err(store_err)?
            .into_iter()
            .map(|e| {
                let open = store.engineer_queue(&e.id).map_or(0, |q| q.len() as u32);
                wire::Engineer {
                    engineer_id: e.id,
                    name: e.name,
                    contact: e.contact,
                    regions: e.regions,
                    grid_cells: e.grid_cells,
                    skills: e.skills,
                    grid_manager_id: e.grid_manager,
                    open_tickets: open,
                }
            })
            .collect();
        Ok(Response::new(wire::ListEngineersResponse { engineers }))
    }

    async fn add_maintenance_window(
        &self,
        req: Request<wire::MaintenanceWindow>,
    ) -> Result<Response<wire::Empty>, Status> {
        self.operator(&req)?;
        let w = req.into_inner();
        if w.ends_ms <= w.starts_ms {
            return Err(Status::invalid_argument("ends_ms must be after starts_ms"));
        }
        let store = &self.web.store;
        let op = Scope::Operator;
        let known = store.device(&op, &w.scope_id).map_err(store_err)?.is_some()
            || store
                .sites(&op)
                .map_err(store_err)?
                .iter()
                .any(|s| s.id == w.scope_id)
            || store
                .projects(&op)
                .map_err(store_err)?
                .iter()
                .any(|x| x.id == w.scope_id);
        if !known {
            return Err(Status::invalid_argument(format!(
                "scope_id {:?} is not a device, site or project",
                w.scope_id
            )));
        }
        self.web
            .live
            .maintenance(Maintenance {
                scope: w.scope_id,
                from: w.starts_ms,
                until: w.ends_ms,
                reason: w.reason,
            })
            .await
            .map_err(|e| status(json::command_error(e)))?;
        Ok(Response::new(wire::Empty {}))
    }
}
