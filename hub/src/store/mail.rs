//! The customer mail outbox: when a ticket opens, an engineer is on site, the repair is reported
//! and the device confirms it, a [`MailNotice`] is queued in the same write as the ticket change,
//! so a hub restart neither loses nor repeats it; the mailer (`notify::mail`) sends and removes it.

use super::tables::{StoreError, decode};
use heartline_engine::{Ms, Ticket, TicketId, TicketState, What};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

/// Which moment of the repair a customer is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailStep {
    /// A fault was detected and a ticket opened (with the engineer, if one is dispatched).
    Detected,
    OnSite,
    /// The engineer reports the repair; the device's own reports must still confirm it.
    Resolved,
    /// The device's reports confirmed the repair: closed.
    Confirmed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailNotice {
    pub ticket: TicketId,
    pub tenant: String,
    pub step: MailStep,
    pub at: Ms,
}

/// The mail notices the new timeline entries of `changed` call for (entries the stored version
/// of each ticket does not have yet).
pub(super) fn notices(
    stored: &impl ReadableTable<u64, &'static [u8]>,
    changed: &[Ticket],
) -> Result<Vec<MailNotice>, StoreError> {
    let mut out = Vec::new();
    for t in changed {
        let known = match stored.get(t.id)? {
            Some(v) => decode::<Ticket>(v.value())?.timeline.len(),
            None => 0,
        };
        for e in t.timeline.iter().skip(known) {
            let step = match (&e.what, e.change) {
                (What::Opened { .. }, _) => MailStep::Detected,
                (_, Some((_, TicketState::OnSite))) => MailStep::OnSite,
                (_, Some((_, TicketState::Resolved))) => MailStep::Resolved,
                (What::Verified, Some((_, TicketState::Closed))) => MailStep::Confirmed,
                _ => continue,
            };
            out.push(MailNotice {
                ticket: t.id,
                tenant: t.tenant.clone(),
                step,
                at: e.at,
            });
        }
    }
    Ok(out)
}
