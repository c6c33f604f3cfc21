//! Who is calling: a browser session (login with password → an HttpOnly, SameSite=Strict cookie)
//! or an API bearer token. Passwords are Argon2id hashes from the inventory; tokens and session
//! ids are kept as SHA-256 only. Failed logins are slowed down per user name.

use super::error::ApiError;
use super::principal::{LOGIN_FAILURES, Principal, SESSION_TTL};
use super::state::WebState;
use crate::inventory::token_sha256;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const COOKIE: &str = "hl_session";

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The principal behind a bearer token: a user's API token or an engineer's token.
pub fn by_token(state: &WebState, token: &str) -> Result<Option<Principal>, ApiError> {
    use subtle::ConstantTimeEq;
    let hash = token_sha256(token);
    let users = state.store.users().map_err(ApiError::store)?;
    let user = users
        .iter()
        .find(|u| u.tokens_sha256.iter().any(|h| bool::from(h.ct_eq(&hash))));
    if let Some(u) = user {
        return Ok(Some(Principal::of(u)));
    }
    let engineer = state
        .store
        .engineer_by_token(&hash)
        .map_err(ApiError::store)?;
    Ok(engineer.map(|e| Principal::Engineer {
        user: e.id.clone(),
        engineer: e.id,
    }))
}

impl FromRequestParts<WebState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        let auth = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(auth) = auth {
            let token = crate::api::auth::bearer(Some(auth))
                .map_err(|_| ApiError::new(StatusCode::UNAUTHORIZED, "err-no-bearer"))?;
            return by_token(state, token)?
                .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "err-token-invalid"));
        }
        cookie(&parts.headers, COOKIE)
            .and_then(|id| state.sessions.get(&id))
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "err-log-in-first"))
    }
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    pub user: String,
    pub password: String,
}

/// The body of `POST /login`: a form (`application/x-www-form-urlencoded`, as the page sends)
/// or JSON (`application/json`, as a script would); anything else is refused with what to send.
pub struct LoginBody(pub LoginForm);

impl<S: Send + Sync> axum::extract::FromRequest<S> for LoginBody {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let refused = |status: StatusCode, why: String| {
            ApiError::new(status, "err-login-body").with("detail", why)
        };
        if json {
            axum::Json::<LoginForm>::from_request(req, state)
                .await
                .map(|axum::Json(f)| LoginBody(f))
                .map_err(|e| refused(e.status(), e.body_text()))
        } else {
            axum::Form::<LoginForm>::from_request(req, state)
                .await
                .map(|axum::Form(f)| LoginBody(f))
                .map_err(|e| refused(e.status(), e.body_text()))
        }
    }
}

/// `POST /login` (form or JSON fields `user`, `password`): sets the session cookie.
pub async fn login(State(state): State<WebState>, LoginBody(form): LoginBody) -> Response {
    if !state.sessions.may_try(&form.user) {
        tracing::warn!(user = %form.user, "login refused: too many failures");
        return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "err-login-locked").into_response();
    }
    let users = match state.store.users() {
        Ok(u) => u,
        Err(e) => return ApiError::store(e).into_response(),
    };
    let user = users.into_iter().find(|u| u.id == form.user);
    let known = user.as_ref().map(|u| Principal::of(u).role());
    let password = form.password.clone();
    // Verify even for unknown users, so timing does not tell which names exist.
    let verified = tokio::task::spawn_blocking(move || {
        use argon2::{Argon2, PasswordHash, PasswordVerifier};
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let dummy = DUMMY.get_or_init(|| hash_password("not anyone's password"));
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.as_str())
            .filter(|h| !h.is_empty())
            .unwrap_or(dummy);
        let ok = PasswordHash::new(hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        user.filter(|u| ok && !u.password_hash.is_empty())
    })
    .await
    .ok()
    .flatten();
    let Some(user) = verified else {
        let locked = state.sessions.failed(&form.user);
        tracing::info!(user = %form.user, "login failed");
        // Only a real account's lock-out is recorded: guessed names cannot fill the trail.
        if let (true, Some(role)) = (locked, known) {
            audit_login(
                &state,
                role,
                &form.user,
                format!("login locked for a minute after {LOGIN_FAILURES} failed attempts"),
            )
            .await;
        }
        return ApiError::new(StatusCode::UNAUTHORIZED, "err-login").into_response();
    };
    let principal = Principal::of(&user);
    tracing::info!(user = %user.id, role = principal.role(), "logged in");
    audit_login(&state, principal.role(), &user.id, "logged in".into()).await;
    let id = state.sessions.open(principal.clone());
    let secure = if state.https { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    );
    let mut resp =
        axum::Json(serde_json::json!({"user": user.id, "role": principal.role()})).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// A login or lock-out in the audit trail (`customer:alice`, `user/alice`). A failure to write
/// it is logged; it does not refuse the login.
async fn audit_login(state: &WebState, role: &str, user: &str, what: String) {
    let entry = crate::audit::AuditEntry {
        at: crate::audit::now_ms(),
        who: format!("{role}:{user}"),
        what,
        object: format!("user/{user}"),
    };
    let store = state.store.clone();
    let written = tokio::task::spawn_blocking(move || store.record_audit(vec![entry])).await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::error!(user, "could not write the login to the audit trail");
    }
}

/// An Argon2id PHC string for `password`, as the inventory keeps it.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// `POST /logout`: ends the session.
pub async fn logout(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, COOKIE) {
        state.sessions.close(&id);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let cleared = if state.https {
        "hl_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure"
    } else {
        "hl_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    };
    resp.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(cleared));
    resp
}
