//! The audit table: chained records appended inside the write transaction of the change they
//! describe, so a change and its record are on disk together or not at all.

use super::tables::{AUDIT, StoreError, decode, encode};
use crate::audit::{AuditEntry, AuditRecord, GENESIS, who};
use crate::i18n::{Lang, render};
use crate::localtime::Zone;
use heartline_engine::Ticket;
use redb::{ReadableTable, WriteTransaction};

/// For each ticket about to be written: the timeline entries its stored version does not have
/// yet (all of them for a new ticket), as audit entries on `ticket/{id}`.
pub(super) fn ticket_entries(
    stored: &impl ReadableTable<u64, &'static [u8]>,
    changed: &[Ticket],
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut out = Vec::new();
    for t in changed {
        let known = match stored.get(t.id)? {
            Some(v) => decode::<Ticket>(v.value())?.timeline.len(),
            None => 0,
        };
        let object = format!("ticket/{}", t.id);
        out.extend(t.timeline.iter().skip(known).map(|e| AuditEntry {
            at: e.at,
            who: who(&e.actor),
            // The audit trail is for staff and auditors: English, as it always was.
            what: format!(
                "{} (now {})",
                render::entry(Lang::En, &Zone::default(), e),
                t.state.as_str()
            ),
            object: object.clone(),
        }));
    }
    Ok(out)
}

/// Appends `entries` after the last record, inside `tx`.
pub(super) fn append(tx: &WriteTransaction, entries: Vec<AuditEntry>) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut table = tx.open_table(AUDIT)?;
    let (mut seq, mut prev) = match table.last()? {
        Some((k, v)) => (k.value(), decode::<AuditRecord>(v.value())?.hash),
        // Empty: a new trail, or one retention removed entirely (it continues after the anchor).
        None => super::retention::chain_start(tx)?.unwrap_or((0, GENESIS)),
    };
    for entry in entries {
        seq += 1;
        let record = AuditRecord::chain(&prev, seq, entry);
        prev = record.hash;
        table.insert(seq, encode(&record)?.as_slice())?;
    }
    Ok(())
}
