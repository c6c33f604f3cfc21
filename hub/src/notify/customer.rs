//! What a customer is told at a step of a repair (detected, on site, resolved, confirmed): the
//! subject and text in the tenant's language, times in the tenant's zone, the ticket's link.
//! The mail and the tenant's webhook both send this.

use super::outbox::{Drain, Failure};
use crate::i18n::{Lang, render, t};
use crate::localtime::Zone;
use crate::store::mail::{MailNotice, MailStep};
use crate::store::records::TenantRecord;
use crate::store::{Outbox, Scope, Store};
use heartline_engine::Ticket;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// A customer notice, composed.
pub struct CustomerText {
    pub tenant: TenantRecord,
    pub ticket: Ticket,
    pub lang: Lang,
    pub zone: Zone,
    /// `{base_url}/#/ticket/{id}`.
    pub link: String,
    pub subject: String,
    pub body: String,
}

impl MailStep {
    /// The step's name in the webhook's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MailStep::Detected => "detected",
            MailStep::OnSite => "onsite",
            MailStep::Resolved => "resolved",
            MailStep::Confirmed => "confirmed",
        }
    }
}

/// The notice `n` as its tenant reads it, or `None` when its tenant or ticket is gone.
pub fn compose(
    store: &Store,
    base_url: &str,
    n: &MailNotice,
) -> Result<Option<CustomerText>, String> {
    let tenant = store
        .tenants(&Scope::Operator)
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|t| t.id == n.tenant);
    let ticket = store
        .ticket(&Scope::Operator, n.ticket)
        .map_err(|e| e.to_string())?;
    let (Some(tenant), Some(ticket)) = (tenant, ticket) else {
        return Ok(None);
    };
    let lang: Lang = tenant.language;
    let zone = Zone::or_default(&tenant.time_zone);
    let title = render::title(lang, &ticket);
    let link = format!("{}/#/ticket/{}", base_url.trim_end_matches('/'), ticket.id);
    let number = ticket.id.to_string();
    let engineer = ticket.engineer.clone().unwrap_or_default();
    let (step, body_id) = match n.step {
        MailStep::Detected if ticket.engineer.is_some() => ("mail-step-detected", "mail-detected"),
        MailStep::Detected => ("mail-step-detected", "mail-detected-unassigned"),
        MailStep::OnSite => ("mail-step-on-site", "mail-on-site"),
        MailStep::Resolved => ("mail-step-resolved", "mail-resolved"),
        MailStep::Confirmed => ("mail-step-confirmed", "mail-confirmed"),
    };
    let args = [
        ("ticket", number.as_str()),
        ("title", title.as_str()),
        ("engineer", engineer.as_str()),
        ("repair_by", &zone.format(ticket.repair_by)),
        ("at", &zone.format(n.at)),
        ("zone", zone.name()),
        ("link", link.as_str()),
    ];
    let subject = t(
        lang,
        "mail-subject",
        &[("ticket", &number), ("step", &t(lang, step, &[]))],
    );
    let body = t(lang, body_id, &args);
    Ok(Some(CustomerText {
        tenant,
        ticket,
        lang,
        zone,
        link,
        subject,
        body,
    }))
}

/// Delivers a customer outbox (mail, the tenants' webhooks) with `deliver` until `stop` is set:
/// a lane per tenant, so each tenant's notices keep their order and a receiver that is down holds
/// back only its own tenant's.
pub fn drain(
    outbox: Outbox,
    what: &'static str,
    store: &Store,
    stop: Arc<AtomicBool>,
    retry_max: Duration,
    deliver: impl FnMut(u64, &MailNotice) -> Result<(), Failure>,
) {
    let drain = Drain {
        outbox,
        what,
        retry_max,
        stop,
        wake: None,
    };
    drain.run(store, |n: &MailNotice| n.tenant.clone(), deliver);
}
