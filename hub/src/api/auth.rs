//! Bearer tokens: `Authorization: Bearer <token>`, looked up by SHA-256 (tokens are stored
//! hashed), compared in constant time. The token itself is never logged.

use crate::inventory::token_sha256;
use crate::store::{EngineerRecord, Store};

/// Why a caller was not let in; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: send the header `Authorization: Bearer <token>`")]
    Missing,
    #[error("the token is not valid: check it, or ask the operator for a new one")]
    Invalid,
    #[error("the hub cannot check tokens right now: {0}")]
    Store(String),
}

/// The token from an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token.trim())
}

/// The engineer a token belongs to.
pub fn engineer(store: &Store, header: Option<&str>) -> Result<EngineerRecord, AuthError> {
    let token = bearer(header)?;
    store
        .engineer_by_token(&token_sha256(token))
        .map_err(|e| AuthError::Store(e.to_string()))?
        .ok_or(AuthError::Invalid)
}

impl From<AuthError> for tonic::Status {
    fn from(e: AuthError) -> tonic::Status {
        match e {
            AuthError::Store(_) => tonic::Status::unavailable(e.to_string()),
            _ => tonic::Status::unauthenticated(e.to_string()),
        }
    }
}
