//! The unified project view: the JSON API under `/api/v1`, its live change stream (SSE), the
//! login, and the browser pages (assets built into the binary, no CDN), on the hub's HTTP port.
//!
//! - [`session`]: login and bearer tokens → a [`principal::Principal`], kept in [`principal`]'s
//!   sessions; [`state`]: what every handler is given; [`error`]: the API's JSON errors;
//! - [`views`]: project health, device rows, ticket rows with SLA state;
//! - [`json`]: the API handlers; [`events`]: Server-Sent Events with `Last-Event-ID` catch-up;
//! - [`kpi`]: the operator's KPI board; [`pages`]: the HTML, CSS and JavaScript, and the page's
//!   message table in the reader's language;
//! - [`reader`]: the reader's language and their tenants' time zones; [`progress`]: a ticket's
//!   service-progress tracker; [`map`]: the site map's data (sites by coordinates, status).
//! - [`fallback`]: what a request no route took gets (gRPC's "unimplemented", or JSON 401/404).
//!
//! Every route is listed in [`routes`], which both builds the router and drives the tenant
//! isolation test, so a new route cannot miss it. Objects outside the caller's scope are 404.

pub mod error;
pub mod events;
pub mod fallback;
pub mod json;
pub mod kpi;
pub mod map;
pub mod pages;
pub mod paging;
pub mod positions;
pub mod principal;
pub mod problems;
pub mod progress;
pub mod reader;
pub mod session;
pub mod state;
pub mod views;

pub use error::ApiError;
pub use state::WebState;

use axum::routing::MethodRouter;

/// One API route: method, path, and who may call it (for the docs and the isolation test).
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub who: &'static str,
    pub handler: MethodRouter<WebState>,
}

/// Every route of the JSON API and the live stream.
pub fn routes() -> Vec<Route> {
    use axum::routing::{get, post};
    let r = |method, path, who, handler| Route {
        method,
        path,
        who,
        handler,
    };
    vec![
        r("GET", "/api/v1/me", "anyone", get(json::me)),
        r(
            "GET",
            "/api/v1/projects",
            "operator, customer",
            get(json::projects),
        ),
        r(
            "GET",
            "/api/v1/projects/{project}",
            "operator, customer",
            get(json::project),
        ),
        r(
            "POST",
            "/api/v1/projects/{project}/report",
            "customer",
            post(problems::report_problem),
        ),
        r(
            "GET",
            "/api/v1/devices/{device}",
            "operator, customer, engineer (own tickets)",
            get(json::device),
        ),
        r(
            "GET",
            "/api/v1/tickets",
            "operator, customer, engineer (own)",
            get(json::tickets),
        ),
        r(
            "GET",
            "/api/v1/tickets/{ticket}",
            "operator, customer, engineer (own)",
            get(json::ticket),
        ),
        r(
            "POST",
            "/api/v1/tickets/{ticket}/comment",
            "anyone who sees the ticket",
            post(json::comment),
        ),
        r(
            "POST",
            "/api/v1/tickets/{ticket}/rate",
            "customer",
            post(json::rate),
        ),
        r(
            "POST",
            "/api/v1/tickets/{ticket}/accept",
            "engineer",
            post(json::accept),
        ),
        r(
            "POST",
            "/api/v1/tickets/{ticket}/decline",
            "engineer",
            post(json::decline),
        ),
        r(
            "POST",
            "/api/v1/tickets/{ticket}/onsite",
            "engineer",
            post(json::onsite),
        ),
        r(
            "POST",
            "/api/v1/tickets/{ticket}/resolve",
            "engineer",
            post(json::resolve),
        ),
        r(
            "POST",
            "/api/v1/engineer/position",
            "engineer",
            post(positions::report_position),
        ),
        r("GET", "/api/v1/tenants", "operator", get(json::tenants)),
        r(
            "GET",
            "/api/v1/map",
            "operator, customer (own sites)",
            get(map::map),
        ),
        r("GET", "/api/v1/kpi", "operator", get(json::kpi)),
        r("GET", "/api/v1/kpi.csv", "operator", get(json::kpi_csv)),
        r(
            "GET",
            "/api/v1/events",
            "anyone (own scope)",
            get(events::stream),
        ),
    ]
}

/// The OpenAPI description of [`routes`].
pub fn openapi() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for route in routes() {
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| serde_json::json!({}));
        let params: Vec<serde_json::Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| serde_json::json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        entry[route.method.to_lowercase()] = serde_json::json!({
            "summary": format!("{} {}", route.method, route.path),
            "description": format!("Who may call it: {}. Objects outside the caller's scope answer 404.", route.who),
            "parameters": params,
            "security": [{"bearer": []}, {"session": []}],
            "responses": {
                "200": {"description": "OK (JSON)"},
                "401": {"description": "not logged in / bad token"},
                "404": {"description": "no such object in your scope"}
            }
        });
    }
    serde_json::json!({
        "openapi": "3.0.3",
        "info": {"title": "Heartline hub API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": session::COOKIE}
        }}
    })
}

/// The web view and JSON API as one router.
pub fn router(state: WebState) -> axum::Router {
    use axum::routing::{get, post};
    let mut router = axum::Router::new()
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/i18n/messages.json", get(pages::messages))
        .route(
            "/api/v1/openapi.json",
            get(|| async { axum::Json(openapi()) }),
        );
    for route in routes() {
        router = router.route(route.path, route.handler);
    }
    router.merge(pages::router()).with_state(state)
}
