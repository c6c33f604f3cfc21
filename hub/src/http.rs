//! The hub's HTTP endpoint: Prometheus `/metrics`, `/healthz`, and the API (gRPC over HTTP/2
//! and SSE) on the same port, over plain TCP or TLS (`tls::https`).

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
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
    let mut app = router(m);
    if let Some(cluster) = cluster {
        app = app.merge(cluster);
    }
    let app = app
        .merge(crate::api::router(api, web.clone()))
        .merge(crate::web::router(web));
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}
