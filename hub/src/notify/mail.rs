//! Customer notices by mail: the store's mail outbox (`store::mail`) sent through an SMTP relay
//! with lettre, each mail in its tenant's language and time zone, with the link to the ticket.
//! A mail leaves the outbox only once the relay took it; until then it is retried with backoff,
//! across hub restarts too (`notify::outbox`; what it says is `notify::customer`). Its Message-ID is fixed by its outbox id, so the one case that can
//! repeat a mail (the hub stopped between the relay's answer and the removal) repeats the same
//! Message-ID, which mail systems drop.

use super::outbox::Failure;
use crate::store::mail::MailNotice;
use crate::store::{Outbox, Store};
use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{Message, SmtpTransport, Transport};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
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
    let Some(text) = super::customer::compose(store, &s.base_url, n)? else {
        return Ok(None);
    };
    if text.tenant.email.is_empty() {
        return Ok(None);
    }
    let domain = s.from.email.domain().to_string();
    let mut m = Message::builder()
        .from(s.from.clone())
        .subject(text.subject)
        .message_id(Some(format!("<heartline-mail-{id}@{domain}>")));
    for address in &text.tenant.email {
        let to: Mailbox = address.parse().map_err(|e| format!("{address}: {e}"))?;
        m = m.to(to);
    }
    let part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(Body::new(text.body));
    m.singlepart(part).map(Some).map_err(|e| e.to_string())
}

/// Sends the mail outbox until `stop` is set, each tenant's mails in order; a failure waits with
/// exponential backoff (up to `retry_max`) and the tenant's mails behind it wait too. A mail the
/// relay refuses for good (a 5xx answer) or that cannot be written is logged and dropped.
pub fn run_mailer(
    store: Arc<Store>,
    settings: MailSettings,
    stop: Arc<AtomicBool>,
    retry_max: Duration,
) {
    let smtp = match transport(&settings) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot set up the SMTP transport; no customer mail");
            return;
        }
    };
    super::customer::drain(
        Outbox::Mail,
        "customer mail",
        &store,
        stop,
        retry_max,
        |id, notice| match compose(&store, &settings, id, notice) {
            // A 5xx answer (no such mailbox, relaying denied) will not change by waiting.
            Ok(Some(m)) => smtp.send(&m).map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    Failure::Never(e.to_string())
                } else {
                    Failure::Later(e.to_string())
                }
            }),
            Ok(None) => Ok(()),
            // The mail cannot be written (an address the relay would never take).
            Err(e) => Err(Failure::Never(e)),
        },
    );
}
