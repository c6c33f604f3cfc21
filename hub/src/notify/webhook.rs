//! The webhook notifier: each notice as a JSON POST, signed with HMAC-SHA256 over the body
//! (`X-Heartline-Signature: sha256=<hex>`), with an `Idempotency-Key` header that stays the same
//! on every retry of the same notice.

use super::notifier::Notifier;
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

pub struct Webhook {
    settings: WebhookSettings,
    agent: ureq::Agent,
}

impl Webhook {
    pub fn new(settings: WebhookSettings) -> Webhook {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(settings.timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
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
    fn deliver(&mut self, key: &str, n: &Notice, text: &str) -> Result<(), String> {
        let body = serde_json::to_vec(&Body {
            idempotency_key: key,
            ticket: n.ticket,
            at_ms: n.at,
            to: &n.to,
            kind: n.kind.as_str(),
            text,
            lang: self.settings.language.tag(),
        })
        .map_err(|e| e.to_string())?;
        let response = self
            .agent
            .post(&self.settings.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key)
            .header(SIGNATURE_HEADER, signature(&self.settings.secret, &body))
            .send(&body[..])
            .map_err(|e| format!("POST {}: {e}", self.settings.url))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "POST {}: the receiver answered {status}",
                self.settings.url
            ))
        }
    }
}
