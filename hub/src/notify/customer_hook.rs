//! The tenants' webhooks for customer notices (inventory `webhook`, `webhook_secret`): each step
//! of a repair as a signed JSON POST in the tenant's language, times in its zone and in UTC.
//! Delivered from the store's `customer_webhook` outbox by the shared loop (`notify::outbox`):
//! each tenant's notices in order, a receiver that is down holding back only its own tenant, a
//! 4xx dropped with an error log. The `Idempotency-Key` (`heartline-customer-N`) comes from the
//! outbox's id, stored with the row, so it is the same on every retry and across restarts: a
//! receiver drops a resend (the hub stopped between the answer and the removal) by it.

use super::customer::{self, CustomerText};
use super::outbox::Failure;
use super::webhook::{agent, post_signed};
use crate::localtime::{Zone, utc_rfc3339};
use crate::store::mail::MailNotice;
use crate::store::{Outbox, Store};
use heartline_engine::Ms;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// An instant in the tenant's zone and in UTC, both RFC 3339.
#[derive(serde::Serialize)]
struct When {
    local: String,
    utc: String,
}

impl When {
    fn new(zone: &Zone, ms: Ms) -> When {
        When {
            local: zone.rfc3339(ms),
            utc: utc_rfc3339(ms),
        }
    }
}

/// The JSON a tenant's receiver gets.
#[derive(serde::Serialize)]
struct Body<'a> {
    idempotency_key: &'a str,
    tenant: &'a str,
    ticket: u64,
    /// `detected`, `onsite`, `resolved` or `confirmed`.
    step: &'a str,
    lang: &'a str,
    subject: &'a str,
    /// The notice in the tenant's language, as the mail says it.
    text: &'a str,
    link: &'a str,
    engineer: Option<&'a str>,
    zone: &'a str,
    at: When,
    repair_by: When,
}

/// The body of outbox row `key` for `n`.
fn body(key: &str, n: &MailNotice, c: &CustomerText) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Body {
        idempotency_key: key,
        tenant: &c.tenant.id,
        ticket: c.ticket.id,
        step: n.step.as_str(),
        lang: c.lang.tag(),
        subject: &c.subject,
        text: &c.body,
        link: &c.link,
        engineer: c.ticket.engineer.as_deref(),
        zone: c.zone.name(),
        at: When::new(&c.zone, n.at),
        repair_by: When::new(&c.zone, c.ticket.repair_by),
    })
}

/// Delivers the customer webhook outbox until `stop` is set. Links are `{base_url}/#/ticket/N`.
pub fn run(store: Arc<Store>, base_url: String, stop: Arc<AtomicBool>, retry_max: Duration) {
    let http = agent(Duration::from_secs(10));
    customer::drain(
        Outbox::CustomerHooks,
        "customer webhook notice",
        &store,
        stop,
        retry_max,
        |id, n| {
            // The webhook as the inventory says now: removed since the step was queued, or the
            // ticket gone, and there is nobody to tell.
            let hook = store
                .tenant_webhook(&n.tenant)
                .map_err(|e| Failure::Later(e.to_string()))?;
            let Some(hook) = hook else {
                return Ok(());
            };
            let Some(text) = customer::compose(&store, &base_url, n).map_err(Failure::Later)?
            else {
                return Ok(());
            };
            let key = format!("heartline-customer-{id}");
            let body = body(&key, n, &text).map_err(|e| Failure::Never(e.to_string()))?;
            post_signed(&http, &hook.url, hook.secret.as_bytes(), &key, &body)
        },
    );
}
