//! What a request no route took gets, on the one HTTP port that serves the web view, the JSON
//! API and gRPC: gRPC's own "unimplemented", or the API's JSON 401/404.

use super::error::ApiError;
use super::principal::Principal;
use super::state::WebState;
use axum::extract::{FromRequestParts, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};

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
pub async fn unmatched(web: WebState, req: Request) -> Response {
    if is_grpc(req.headers()) {
        let (parts, ()) = tonic::Status::unimplemented("no such gRPC method")
            .into_http::<()>()
            .into_parts();
        return Response::from_parts(parts, axum::body::Body::empty());
    }
    let path = req.uri().path().to_string();
    let (mut parts, _) = req.into_parts();
    match Principal::from_request_parts(&mut parts, &web).await {
        Err(refused) => refused.into_response(),
        Ok(_) => ApiError::not_found("err-no-route")
            .with("path", path)
            .into_response(),
    }
}
