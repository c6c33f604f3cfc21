//! The browser side: one HTML page, its stylesheet and script, compiled into the binary (no CDN,
//! nothing fetched from elsewhere), served with a strict Content-Security-Policy; and the page's
//! strings in the reader's language (`/i18n/messages.json`, public: the login page needs them).

use super::error::ApiError;
use super::principal::Principal;
use super::state::WebState;
use crate::i18n::{Lang, catalog};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The page's strings in the request's language: `{"lang": "zh-CN", "messages": {id: template}}`.
pub async fn messages(lang: Lang) -> axum::response::Response {
    match catalog().page_table(lang) {
        Ok(table) => (
            [
                (header::CACHE_CONTROL, "no-cache"),
                (header::VARY, "Cookie, Accept-Language"),
            ],
            axum::Json(serde_json::json!({"lang": lang.tag(), "messages": table})),
        )
            .into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

/// The page with its `lang` attribute, title and message table in the reader's language, and
/// who is logged in (`me`, as `/api/v1/me` answers; null before login). They ride in a JSON data
/// block (not executed, so the CSP allows it): the first render needs no round trip for them.
fn index(lang: Lang, me: Option<serde_json::Value>) -> String {
    let title = crate::i18n::t(lang, "page-title", &[]);
    let table = catalog().page_table(lang).unwrap_or_default();
    let data = serde_json::json!({"lang": lang.tag(), "messages": table, "me": me})
        .to_string()
        .replace("</", "<\\/");
    let (css, js) = asset_urls();
    INDEX
        .replacen("/assets/app.css", css, 1)
        .replacen("/assets/app.js", js, 1)
        .replacen(
            "<html lang=\"en\">",
            &format!("<html lang=\"{}\">", lang.tag()),
            1,
        )
        .replacen(
            "<title>Heartline</title>",
            &format!("<title>{title}</title>"),
            1,
        )
        .replacen(
            "<!-- messages -->",
            &format!("<script type=\"application/json\" id=\"hl-messages\">{data}</script>"),
            1,
        )
}

/// The stylesheet's and script's URLs with a digest of their content: browsers keep them for a
/// year (they are immutable under that URL) and a new hub build changes the URL.
fn asset_urls() -> &'static (String, String) {
    static URLS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    URLS.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let v = |text: &str| hex::encode(&Sha256::digest(text.as_bytes())[..6]);
        (
            format!("/assets/app.css?v={}", v(CSS)),
            format!("/assets/app.js?v={}", v(JS)),
        )
    })
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

const INDEX: &str = include_str!("assets/index.html");
const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

pub fn router() -> axum::Router<WebState> {
    axum::Router::new()
        .route(
            "/",
            get(|State(state): State<WebState>, who: Result<Principal, ApiError>, lang: Lang| async move {
                let me = who.ok().map(|p| super::json::me_value(&state, &p, lang));
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CONTENT_SECURITY_POLICY, CSP),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                        (header::VARY, "Cookie, Accept-Language"),
                    ],
                    index(lang, me),
                )
                    .into_response()
            }),
        )
        .route(
            "/assets/app.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, IMMUTABLE),
                    ],
                    CSS,
                )
            }),
        )
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, IMMUTABLE),
                    ],
                    JS,
                )
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message id the page's script names exists in both languages: literal ids
    /// (`"page-login"`) and ids built from a prefix and a code the API sends (`"page-status-" +
    /// status`), for each code the API can send.
    #[test]
    fn every_message_the_script_uses_exists_in_both_languages() {
        let codes: &[(&str, &[&str])] = &[
            ("page-health-", &["ok", "warning", "down"]),
            (
                "page-status-",
                &[
                    "ok",
                    "warning",
                    "down",
                    "affected",
                    "maintenance",
                    "unknown",
                ],
            ),
            ("page-role-", &["operator", "customer", "engineer"]),
            ("page-period-", &["day", "week", "month"]),
        ];
        let mut wanted = Vec::new();
        for literal in JS.split('"').skip(1).step_by(2) {
            let is_id = literal.starts_with("page-")
                && literal
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !is_id {
                continue;
            }
            if literal.ends_with('-') {
                let (_, values) = codes
                    .iter()
                    .find(|(prefix, _)| *prefix == literal)
                    .unwrap_or_else(|| panic!("{literal}: add its codes to this test"));
                wanted.extend(values.iter().map(|v| format!("{literal}{v}")));
            } else {
                wanted.push(literal.to_string());
            }
        }
        assert!(wanted.len() > 80, "{} ids found in app.js", wanted.len());
        for lang in Lang::ALL {
            let table = catalog().page_table(lang).unwrap();
            let missing: Vec<_> = wanted
                .iter()
                .filter(|id| !table.contains_key(*id))
                .collect();
            assert!(missing.is_empty(), "{}: {missing:?}", lang.tag());
        }
    }

    #[test]
    fn the_page_names_its_language() {
        assert!(index(Lang::ZhCn, None).contains("<html lang=\"zh-CN\">"));
        assert!(index(Lang::En, None).contains("<html lang=\"en\">"));
        assert!(index(Lang::ZhCn, None).contains("<title>Heartline 心线</title>"));
        assert!(index(Lang::ZhCn, None).contains("\"page-login\":\"登录\""));
        assert!(index(Lang::En, None).contains("src=\"/assets/app.js?v="));
    }
}
