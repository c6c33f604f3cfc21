//! The hub's HTTP endpoint: Prometheus `/metrics`, `/healthz`, and the API (gRPC over HTTP/2
//! and SSE) on the same port, over plain TCP or TLS (`tls::https`).

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::future::Future;
use std::sync::Arc;

async fn metrics(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.render(),
    )
}

pub fn router(m: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(m)
}

/// Serves until `stop` resolves: metrics, the gRPC API and the web view on one port;
/// `listener` is a `TcpListener` or a `tls::https::TlsListener`.
pub async fn serve<L>(
    listener: L,
    m: Arc<Metrics>,
    api: crate::api::ApiState,
    web: crate::web::WebState,
    cluster: Option<Router>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    if crate::parts::injected("http") {
        return Err(std::io::Error::other(
            "injected fault (HEARTLINE_FAULT=http)",
        ));
    }
    let mut app = router(m);
    if let Some(cluster) = cluster {
        app = app.merge(cluster);
    }
    let app = app
        .merge(crate::api::router(api, web.clone()))
        .merge(crate::web::router(web.clone()))
        .fallback(move |req: Request| unmatched(web.clone(), req))
        .layer(axum::middleware::map_response(json_errors));
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

/// Whether a request speaks gRPC (`content-type: application/grpc`, `application/grpc+proto`…).
pub fn is_grpc(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// A request no route took. gRPC gets gRPC's own "unimplemented"; anything else the API's
/// JSON error: 401 without valid credentials (so that a stranger learns nothing of which paths
/// exist), else 404.
pub(crate) async fn unmatched(web: crate::web::WebState, req: Request) -> Response {
    if is_grpc(req.headers()) {
        let (parts, ()) = tonic::Status::unimplemented("no such gRPC method")
            .into_http::<()>()
            .into_parts();
        return Response::from_parts(parts, axum::body::Body::empty());
    }
    let path = req.uri().path().to_string();
    let (mut parts, _) = req.into_parts();
    match crate::web::session::Principal::from_request_parts(&mut parts, &web).await {
        Err(refused) => refused.into_response(),
        Ok(_) => crate::web::ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no page or API route at {path}: check the address (the API is under /api/v1/)"
            ),
        )
        .into_response(),
    }
}

/// The API answers every error as `{"error": "…"}`: axum's own refusals (a malformed path
/// parameter, query or JSON body) come as plain text and are rewrapped here.
async fn json_errors(res: Response) -> Response {
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let status = res.status();
    if !plain || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let body = axum::body::to_bytes(res.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    crate::web::ApiError::new(status, text).into_response()
}
