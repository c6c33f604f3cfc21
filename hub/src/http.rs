//! The hub's HTTP endpoint: Prometheus `/metrics`, `/healthz`, and the API (gRPC over HTTP/2
//! and SSE) on the same port, over plain TCP or TLS (`tls::https`).

use crate::metrics::Metrics;
use crate::web::fallback::unmatched;
use axum::Router;
use axum::extract::{Request, State};
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
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn(crate::web::error::localize));
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

/// The API answers every error as `{"error": "…"}`: axum's own refusals (a malformed path
/// parameter, query or JSON body) come as plain (English) text and are rewrapped here, framed
/// in the reader's language.
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
    crate::web::ApiError::new(status, "err-request")
        .with("detail", text)
        .into_response()
}
