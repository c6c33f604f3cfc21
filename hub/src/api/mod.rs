//! The hub's API for people: gRPC services (tonic) and their Server-Sent-Events twins, served on
//! the HTTP port next to `/metrics`. Callers authenticate with a bearer token, stored hashed.
//!
//! - [`auth`]: who is calling; [`convert`]: domain → wire types;
//! - [`engineer`]: the engineer's live queue (`WatchAssignments`, SSE) and ticket actions;
//! - [`people`]: project status, tickets, devices and administration for customers and the
//!   operator; [`state`]: what every handler is given.

pub mod auth;
pub mod convert;
pub mod engineer;
pub mod people;
pub mod state;

pub use state::ApiState;

use crate::web::fallback::{is_grpc, unmatched};

/// The gRPC services and SSE routes, as one router to merge into the HTTP server's.
pub fn router(state: ApiState, web: crate::web::WebState) -> axum::Router {
    use heartline_proto::wire::*;
    let people = people::PeopleApi::new(web.clone());
    let grpc = tonic::service::Routes::new(engineer_service_server::EngineerServiceServer::new(
        engineer::EngineerApi::new(state.clone()),
    ))
    .add_service(project_status_service_server::ProjectStatusServiceServer::new(people.clone()))
    .add_service(ticket_service_server::TicketServiceServer::new(
        people.clone(),
    ))
    .add_service(device_service_server::DeviceServiceServer::new(
        people.clone(),
    ))
    .add_service(admin_service_server::AdminServiceServer::new(people))
    .prepare()
    .into_axum_router()
    // The gRPC services' paths answer gRPC only; other requests get what unmatched paths get.
    .layer(axum::middleware::from_fn_with_state(web.clone(), grpc_only));
    grpc.merge(engineer::sse_router(state))
}

/// Lets only gRPC requests (`content-type: application/grpc…`) reach the gRPC services.
async fn grpc_only(
    axum::extract::State(web): axum::extract::State<crate::web::WebState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if is_grpc(req.headers()) {
        next.run(req).await
    } else {
        unmatched(web, req).await
    }
}
