//! Notifications: the engine's notices ([`heartline_engine::Notice`]: a dispatch, an escalation,
//! a withdrawn offer) reach people through [`Notifier`]s. Every notice is logged; with a webhook
//! configured it is kept in the store's outbox (committed with the ticket change that caused it)
//! and POSTed until the receiver takes it, so a receiver that is down, or a hub restart, loses
//! nothing.
//!
//! SMS and voice gateways plug in as further `Notifier`s. Customers are told by mail ([`mail`]),
//! from an outbox of their own that the store fills with each ticket step they should hear of.

pub mod mail;
mod notifier;
mod webhook;

pub use notifier::Notifier;
pub use webhook::{SIGNATURE_HEADER, Webhook, WebhookSettings, signature};

use crate::i18n::{Lang, render};
use crate::store::{Scope, Store};
use heartline_engine::Notice;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A notice in `lang`, with its ticket's title and times in its tenant's zone.
pub fn text(store: &Store, lang: Lang, notice: &Notice) -> String {
    let ticket = store.ticket(&Scope::Operator, notice.ticket).ok().flatten();
    let title = ticket
        .as_ref()
        .map(|t| render::title(lang, t))
        .unwrap_or_default();
    let zone = ticket
        .as_ref()
        .map(|t| store.tenant_zone(&t.tenant))
        .unwrap_or_default();
    render::notice(lang, &zone, notice, &title)
}

/// Delivers the store's outbox through `notifier`, oldest first, until `stop` is set. A notice
/// leaves the outbox only once delivered; on failure it waits with exponential backoff (up to
/// `retry_max`) and is tried again, and the notices behind it wait too, so order is kept.
pub fn run_outbox(
    store: Arc<Store>,
    mut notifier: Box<dyn Notifier>,
    wake: flume::Receiver<()>,
    stop: Arc<AtomicBool>,
    retry_max: Duration,
    lang: Lang,
) {
    if crate::parts::injected("notifier") {
        panic!("injected fault (HEARTLINE_FAULT=notifier)");
    }
    let first_retry = Duration::from_millis(200);
    let mut backoff = first_retry;
    while !stop.load(Ordering::Acquire) {
        let pending = match store.pending_notices(64) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the notification outbox");
                let _ = wake.recv_timeout(retry_max);
                continue;
            }
        };
        if pending.is_empty() {
            let _ = wake.recv_timeout(Duration::from_millis(500));
            continue;
        }
        for (id, notice) in pending {
            if stop.load(Ordering::Acquire) {
                return;
            }
            let key = format!("heartline-notice-{id}");
            let text = text(&store, lang, &notice);
            match notifier.deliver(&key, &notice, &text) {
                Ok(()) => {
                    backoff = first_retry;
                    if let Err(e) = store.notice_delivered(id) {
                        tracing::error!(error = %e, notice = id, "delivered, but cannot remove it from the outbox; it will be sent again with the same key");
                    }
                }
                Err(why) => {
                    tracing::warn!(notice = id, retry_in_ms = backoff.as_millis() as u64, error = %why, "notification not delivered; will retry");
                    // Sleep, but wake early for shutdown.
                    let deadline = std::time::Instant::now() + backoff;
                    while !stop.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(50).min(backoff));
                    }
                    backoff = (backoff * 2).min(retry_max);
                    break;
                }
            }
        }
    }
}
