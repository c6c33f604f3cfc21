//! An error as the API answers it: a status and `{"error": "…"}` saying what to do, in the
//! reader's language.
//!
//! An [`ApiError`] carries a message key and its arguments, not text: [`localize`] (a layer
//! over the whole HTTP port) renders it in the request's [`Lang`], so no call site can forget
//! the language. gRPC reuses [`ApiError::message`] in English (see `api::people::status`).

use crate::i18n::{Lang, render, t};
use crate::store::StoreError;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use heartline_engine::{Refusal, TicketId, TicketState};

/// An error as the API answers it: a status and a catalogue message (`err-…`) with arguments.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    key: &'static str,
    args: Vec<(&'static str, String)>,
    /// A refused ticket action, whose arguments are themselves messages (`render::refusal`).
    refusal: Option<(TicketId, &'static str, TicketState, Refusal)>,
}

impl ApiError {
    /// The error `key` (an `err-…` message of both catalogues); add arguments with [`with`].
    ///
    /// [`with`]: ApiError::with
    pub fn new(status: StatusCode, key: &'static str) -> ApiError {
        ApiError {
            status,
            key,
            args: Vec::new(),
            refusal: None,
        }
    }

    /// A 409: the ticket action `action` is refused in `state` because of `why`.
    pub fn refused(
        id: TicketId,
        action: &'static str,
        state: TicketState,
        why: Refusal,
    ) -> ApiError {
        ApiError {
            refusal: Some((id, action, state, why)),
            ..ApiError::new(StatusCode::CONFLICT, "err-refused")
        }
    }

    /// A 404 with the message `key`.
    pub fn not_found(key: &'static str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, key)
    }

    /// The message argument `name`.
    pub fn with(mut self, name: &'static str, value: impl std::fmt::Display) -> ApiError {
        self.args.push((name, value.to_string()));
        self
    }

    /// A 503 for a failed store read (logged here; the reader is told to try again).
    pub fn store(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store read failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "err-store-unavailable")
    }

    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        if let Some((id, action, state, why)) = self.refusal {
            return render::refusal(lang, id, action, state, why);
        }
        let args: Vec<(&str, &str)> = self.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        t(lang, self.key, &args)
    }

    fn response(&self, lang: Lang) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message(lang) })),
        )
            .into_response()
    }
}

impl IntoResponse for ApiError {
    /// In Chinese (the default); [`localize`] answers it in the request's language instead.
    fn into_response(self) -> Response {
        let mut res = self.response(Lang::default());
        res.extensions_mut().insert(self);
        res
    }
}

/// The layer that answers every [`ApiError`] in the language of the request it answers.
pub async fn localize(req: Request, next: Next) -> Response {
    let lang = Lang::from_headers(req.headers());
    let res = next.run(req).await;
    match res.extensions().get::<ApiError>() {
        Some(e) if lang != Lang::default() => e.response(lang),
        _ => res,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::catalog;

    /// Every `"err-…"` key the HTTP code names, with every argument it may take.
    fn keys_in_the_source() -> Vec<String> {
        let sources = [
            include_str!("error.rs"),
            include_str!("fallback.rs"),
            include_str!("json.rs"),
            include_str!("map.rs"),
            include_str!("positions.rs"),
            include_str!("problems.rs"),
            include_str!("session.rs"),
            include_str!("../http.rs"),
        ];
        let mut keys: Vec<String> = sources
            .iter()
            .flat_map(|s| s.split("\"err-").skip(1))
            .filter_map(|rest| rest.split('"').next())
            .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            .map(|k| format!("err-{k}"))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    #[test]
    fn every_api_error_key_renders_in_both_languages() {
        let keys = keys_in_the_source();
        assert!(keys.len() >= 20, "found only {keys:?}");
        let args = [
            ("id", "42"),
            ("project", "acme-p"),
            ("path", "/api/v1/nope"),
            ("detail", "why"),
            ("wait", "10s"),
            // err-refused, whose arguments `render::refusal` fills with other messages.
            ("ticket", "42"),
            ("action", "rate"),
            ("state", "closed"),
            ("hint", "a rating is 1 to 5 stars"),
        ];
        for lang in Lang::ALL {
            for key in &keys {
                let (text, errors) = catalog().format(lang, key, &args);
                assert!(errors.is_empty(), "{key} in {}: {errors:?}", lang.tag());
                assert!(!text.contains("err-"), "{key} in {}: {text}", lang.tag());
            }
        }
    }

    #[test]
    fn an_error_reads_in_the_language_asked_for() {
        let e = ApiError::not_found("err-no-ticket").with("id", 42);
        assert_eq!(e.message(Lang::En), "ticket 42 not found");
        assert!(e.message(Lang::ZhCn).contains("找不到工单 42"), "{e:?}");
        let e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "err-store-unavailable");
        assert_ne!(e.message(Lang::En), e.message(Lang::ZhCn));
    }
}
