//! The webhook notifier: each notice as a JSON POST, signed with HMAC-SHA256 over the body
//! (`X-Heartline-Signature: sha256=<hex>`), with an `Idempotency-Key` header that stays the same
//! on every retry of the same notice. [`post_signed`] is that POST, shared with the tenants'
//! webhooks for customer notices (`notify::customer_hook`).

use super::notifier::Notifier;
use super::outbox::Failure;
use crate::i18n::Lang;
use heartline_engine::Notice;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "X-Heartline-Signature";

/// Where and how to POST.
#[derive(Clone)]
pub struct WebhookSettings {
    pub url: String,
    /// The HMAC secret shared with the receiver. Never logged.
    pub secret: Vec<u8>,
    pub timeout: Duration,
    /// The language of the notices' text.
    pub language: Lang,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("secret", &"(hidden)")
            .finish()
    }
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`, what a receiver recomputes to check a POST.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// An HTTP client for webhooks: `timeout` for the whole exchange, every status an answer.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// POSTs `body` (JSON) to `url` with its `Idempotency-Key` and signature. A 2xx is delivered;
/// no answer, a 5xx, 408 or 429 may pass ([`Failure::Later`]); any other answer (a 4xx: wrong
/// address, refused signature) will not ([`Failure::Never`]). The secret is in no error.
pub fn post_signed(
    agent: &ureq::Agent,
    url: &str,
    secret: &[u8],
    key: &str,
    body: &[u8],
) -> Result<(), Failure> {
    let response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", key)
        .header(SIGNATURE_HEADER, signature(secret, body))
        .send(body)
        .map_err(|e| Failure::Later(format!("POST {}: {e}", shown(url))))?;
    let status = response.status();
    let why = format!("POST {}: the receiver answered {status}", shown(url));
    match status.as_u16() {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(Failure::Later(why)),
        _ => Err(Failure::Never(why)),
    }
}

/// `url` as logs may show it: without a user and password, a query or a fragment, where a
/// receiver's token often travels.
pub fn shown(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(host_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

pub struct Webhook {
    settings: WebhookSettings,
    agent: ureq::Agent,
}

impl Webhook {
    pub fn new(settings: WebhookSettings) -> Webhook {
        let agent = agent(settings.timeout);
        Webhook { settings, agent }
    }
}

/// The JSON a receiver gets.
#[derive(serde::Serialize)]
struct Body<'a> {
    idempotency_key: &'a str,
    ticket: u64,
    at_ms: i64,
    to: &'a str,
    kind: &'a str,
    /// The notice in [`WebhookSettings::language`].
    text: &'a str,
    lang: &'a str,
}

impl Notifier for Webhook {
    fn deliver(&mut self, key: &str, n: &Notice, text: &str) -> Result<(), Failure> {
        let body = serde_json::to_vec(&Body {
            idempotency_key: key,
            ticket: n.ticket,
            at_ms: n.at,
            to: &n.to,
            kind: n.kind.as_str(),
            text,
            lang: self.settings.language.tag(),
        })
        .map_err(|e| Failure::Never(e.to_string()))?;
        // The operator's own receiver: a notice leaves the outbox only on a 2xx (a refusal is
        // a configuration to fix, after which the held notices go out), unlike a tenant's.
        post_signed(
            &self.agent,
            &self.settings.url,
            &self.settings.secret,
            key,
            &body,
        )
        .map_err(|f| match f {
            Failure::Never(why) => Failure::Later(why),
            later => later,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_logged_url_keeps_no_credentials_query_or_fragment() {
        for (url, logged) in [
            (
                "https://hooks.example/acme/in",
                "https://hooks.example/acme/in",
            ),
            (
                "https://user:s3cret@hooks.example:8443/in?token=abc#x",
                "https://hooks.example:8443/in",
            ),
            ("http://hooks.example?key=1", "http://hooks.example"),
            ("http://a@b@hooks.example/p", "http://hooks.example/p"),
        ] {
            assert_eq!(shown(url), logged, "{url}");
        }
    }
}
