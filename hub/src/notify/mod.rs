//! Notifications: the engine's notices ([`heartline_engine::Notice`]: a dispatch, an escalation,
//! a withdrawn offer) reach people through [`Notifier`]s. Every notice is logged; with a webhook
//! configured it is kept in the store's outbox (committed with the ticket change that caused it)
//! and POSTed until the receiver takes it, so a receiver that is down, or a hub restart, loses
//! nothing.
//!
//! SMS and voice gateways plug in as further `Notifier`s. Customers are told by mail ([`mail`])
//! and by their tenant's webhook ([`customer_hook`]), each from an outbox of its own that the
//! store fills with each ticket step they should hear of; [`customer`] writes what they read, and
//! every outbox is delivered by the same loop ([`outbox`]).

pub mod customer;
pub mod customer_hook;
pub mod mail;
mod notifier;
pub mod outbox;
mod webhook;

pub use notifier::Notifier;
pub use outbox::{Drain, Failure};
pub use webhook::{SIGNATURE_HEADER, Webhook, WebhookSettings, shown, signature};

use crate::i18n::{Lang, render};
use crate::store::{Outbox, Scope, Store};
use heartline_engine::Notice;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
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
    let drain = Drain {
        outbox: Outbox::Notices,
        what: "notification",
        retry_max,
        stop,
        wake: Some(wake),
    };
    // One receiver, one lane: the order of all notices is kept.
    drain.run(
        &store,
        |_: &Notice| String::new(),
        |id, notice| {
            let key = format!("heartline-notice-{id}");
            notifier.deliver(&key, notice, &text(&store, lang, notice))
        },
    );
}
