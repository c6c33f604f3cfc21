//! Customer notices by mail: the store's mail outbox (`store::mail`) sent through an SMTP relay
//! with lettre, each mail in its tenant's language and time zone, with the link to the ticket.
//! A mail leaves the outbox only once the relay took it; until then it is retried with backoff,
//! across hub restarts too. Its Message-ID is fixed by its outbox id, so the one case that can
//! repeat a mail (the hub stopped between the relay's answer and the removal) repeats the same
//! Message-ID, which mail systems drop.

use crate::i18n::{Lang, render, t};
use crate::store::mail::{MailNotice, MailStep};
use crate::store::{Scope, Store};
use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{Message, SmtpTransport, Transport};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTls {
    /// Plain SMTP: a relay on the same host or network.
    None,
    StartTls,
    Tls,
}

impl MailTls {
    pub fn parse(s: &str) -> Option<MailTls> {
        match s {
            "none" => Some(MailTls::None),
            "starttls" => Some(MailTls::StartTls),
            "tls" => Some(MailTls::Tls),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    pub from: Mailbox,
    /// The web view as customers reach it: links are `{base_url}/#/ticket/{id}`.
    pub base_url: String,
}

fn transport(s: &MailSettings) -> Result<SmtpTransport, String> {
    let builder = match s.tls {
        MailTls::None => SmtpTransport::builder_dangerous(&s.host),
        MailTls::StartTls => SmtpTransport::starttls_relay(&s.host).map_err(|e| e.to_string())?,
        MailTls::Tls => SmtpTransport::relay(&s.host).map_err(|e| e.to_string())?,
    };
    Ok(builder
        .port(s.port)
        .timeout(Some(Duration::from_secs(10)))
        .build())
}

/// The mail for outbox entry `id`, or `None` when nobody is to be told (the tenant has no
/// address, or the ticket is gone).
pub fn compose(
    store: &Store,
    s: &MailSettings,
    id: u64,
    n: &MailNotice,
) -> Result<Option<Message>, String> {
    let tenant = store
        .tenants(&Scope::Operator)
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|t| t.id == n.tenant);
    let (Some(tenant), Some(ticket)) = (
        tenant,
        store
            .ticket(&Scope::Operator, n.ticket)
            .map_err(|e| e.to_string())?,
    ) else {
        return Ok(None);
    };
    if tenant.email.is_empty() {
        return Ok(None);
    }
    let lang: Lang = tenant.language;
    let zone = crate::localtime::Zone::or_default(&tenant.time_zone);
    let title = render::title(lang, &ticket);
    let link = format!(
        "{}/#/ticket/{}",
        s.base_url.trim_end_matches('/'),
        ticket.id
    );
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
    let domain = s.from.email.domain().to_string();
    let mut m = Message::builder()
        .from(s.from.clone())
        .subject(subject)
        .message_id(Some(format!("<heartline-mail-{id}@{domain}>")));
    for address in &tenant.email {
        let to: Mailbox = address.parse().map_err(|e| format!("{address}: {e}"))?;
        m = m.to(to);
    }
    let part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(Body::new(body));
    m.singlepart(part).map(Some).map_err(|e| e.to_string())
}

/// Sends the mail outbox, oldest first, until `stop` is set; a failure waits with exponential
/// backoff (up to `retry_max`) and the mails behind it wait too, so the order is kept. A mail
/// the relay refuses for good (a 5xx answer) or that cannot be written is logged and dropped.
pub fn run_mailer(
    store: Arc<Store>,
    settings: MailSettings,
    stop: Arc<AtomicBool>,
    retry_max: Duration,
) {
    let first_retry = Duration::from_millis(200);
    let mut backoff = first_retry;
    let pause = |d: Duration| {
        let deadline = std::time::Instant::now() + d;
        while !stop.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50).min(d));
        }
    };
    let smtp = match transport(&settings) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot set up the SMTP transport; no customer mail");
            return;
        }
    };
    while !stop.load(Ordering::Acquire) {
        let pending = match store.pending_mail(32) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the mail outbox");
                pause(retry_max);
                continue;
            }
        };
        if pending.is_empty() {
            pause(Duration::from_millis(200));
            continue;
        }
        for (id, notice) in pending {
            if stop.load(Ordering::Acquire) {
                return;
            }
            let sent = match compose(&store, &settings, id, &notice) {
                Ok(Some(m)) => smtp.send(&m).map(|_| ()).map_err(|e| {
                    // A 5xx answer (no such mailbox, relaying denied) will not change by waiting.
                    let permanent = e.is_permanent();
                    (e.to_string(), permanent)
                }),
                Ok(None) => Ok(()),
                // The mail cannot be written (an address the relay would never take).
                Err(e) => Err((e, true)),
            };
            match sent {
                Ok(()) => {
                    backoff = first_retry;
                    if let Err(e) = store.mail_sent(id) {
                        tracing::error!(error = %e, mail = id, "sent, but cannot remove it from the outbox; it will be sent again with the same Message-ID");
                    }
                }
                Err((why, true)) => {
                    // Dropped, so it does not hold back the mails queued behind it for ever.
                    tracing::error!(
                        mail = id,
                        ticket = notice.ticket,
                        tenant = %notice.tenant,
                        error = %why,
                        "customer mail refused for good and dropped: check the tenant's email \
                         addresses in the inventory and the [mail] relay's rules"
                    );
                    backoff = first_retry;
                    if let Err(e) = store.mail_sent(id) {
                        tracing::error!(error = %e, mail = id, "cannot remove the refused mail from the outbox; it will be tried again");
                    }
                }
                Err((why, false)) => {
                    tracing::warn!(mail = id, retry_in_ms = backoff.as_millis() as u64, error = %why, "customer mail not sent; will retry");
                    pause(backoff);
                    backoff = (backoff * 2).min(retry_max);
                    break;
                }
            }
        }
    }
}
