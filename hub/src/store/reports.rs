//! Why a customer's problem report went to its device (`classify::matching::Reason`), kept per
//! ticket and report time, for staff to read beside the report. Written after the report's
//! ticket change was committed (by the web handler, not ingest): a hub stopped in between loses
//! the reason, not the report. Retention removes them with their ticket.

use super::Store;
use super::tables::{REPORT_MATCHES, StoreError, decode, encode};
use crate::classify::matching::Reason;
use heartline_engine::{Ms, TicketId};
use redb::{ReadableDatabase, WriteTransaction};

/// `ticket/at`, both zero-padded so that one ticket's rows sort together and by time.
fn key(ticket: TicketId, at: Ms) -> String {
    format!("{ticket:020}/{:020}", at.max(0))
}

/// Removes `ticket`'s rows inside `tx` (retention removing the ticket).
pub(super) fn remove_ticket(tx: &WriteTransaction, ticket: TicketId) -> Result<(), StoreError> {
    let (from, to) = (format!("{ticket:020}/"), format!("{ticket:020}0"));
    tx.open_table(REPORT_MATCHES)?
        .retain_in(from.as_str()..to.as_str(), |_, _| false)?;
    Ok(())
}

impl Store {
    pub fn put_report_match(
        &self,
        ticket: TicketId,
        at: Ms,
        reason: &Reason,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(REPORT_MATCHES)?
            .insert(key(ticket, at).as_str(), encode(&(at, reason))?.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// The reasons kept for `ticket`'s reports, by report time. Staff only: the caller checks
    /// the ticket is visible to them.
    pub fn report_matches(&self, ticket: TicketId) -> Result<Vec<(Ms, Reason)>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(REPORT_MATCHES)?;
        let (from, to) = (format!("{ticket:020}/"), format!("{ticket:020}0"));
        let mut out = Vec::new();
        for row in table.range(from.as_str()..to.as_str())? {
            let (_, v) = row?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }
}
