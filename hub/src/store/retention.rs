//! Retention (`[store] retention_days`): finished tickets, audit records and maintenance windows
//! older than the operator's period leave the store, a bounded batch per write transaction so
//! ingest never waits long for the file. The audit trail keeps an anchor (the last removed
//! record's seq and hash), so what remains still verifies as one chain.

use super::Store;
use super::tables::{ANCHORS, AUDIT, MAINTENANCE, StoreError, TICKETS, decode, encode};
use crate::audit::{Anchor, AuditEntry, AuditRecord};
use heartline_engine::{Maintenance, Ms, Ticket};
use redb::{ReadableDatabase, ReadableTable};

/// Rows removed per write transaction.
pub const PRUNE_BATCH: usize = 1_000;

/// What one [`Store::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub tickets: u64,
    pub audit: u64,
    pub maintenance: u64,
}

impl Pruned {
    pub fn is_empty(&self) -> bool {
        *self == Pruned::default()
    }
}

fn settled_before(t: &Ticket, before: Ms) -> bool {
    t.state.is_terminal() && t.closed_at.is_some_and(|c| c < before)
}

impl Store {
    /// Removes the tickets finished before `before` (with their timelines), the audit records
    /// written before it, and the maintenance windows that ended before it, at most `batch` rows
    /// per transaction; then records what it removed in the audit trail (at `now`). Unfinished
    /// tickets stay, however old.
    pub fn prune(&self, before: Ms, now: Ms, batch: usize) -> Result<Pruned, StoreError> {
        let batch = batch.max(1);
        let mut done = Pruned::default();
        // Candidates from a snapshot; each is checked again in the transaction that removes it.
        let ids: Vec<u64> = {
            let tx = self.db.begin_read()?;
            let mut ids = Vec::new();
            for row in tx.open_table(TICKETS)?.iter()? {
                let (k, v) = row?;
                if settled_before(&decode::<Ticket>(v.value())?, before) {
                    ids.push(k.value());
                }
            }
            ids
        };
        for chunk in ids.chunks(batch) {
            let tx = self.db.begin_write()?;
            {
                let mut tickets = tx.open_table(TICKETS)?;
                for &id in chunk {
                    let gone = match tickets.get(id)? {
                        Some(v) => settled_before(&decode::<Ticket>(v.value())?, before),
                        None => false,
                    };
                    if gone {
                        tickets.remove(id)?;
                        super::reports::remove_ticket(&tx, id)?;
                        done.tickets += 1;
                    }
                }
            }
            tx.commit()?;
        }
        loop {
            let removed = self.prune_audit_batch(before, batch)?;
            done.audit += removed as u64;
            if removed < batch {
                break;
            }
        }
        let windows: Vec<u64> = {
            let tx = self.db.begin_read()?;
            let mut keys = Vec::new();
            for row in tx.open_table(MAINTENANCE)?.iter()? {
                let (k, v) = row?;
                if decode::<Maintenance>(v.value())?.until < before {
                    keys.push(k.value());
                }
            }
            keys
        };
        for chunk in windows.chunks(batch) {
            let tx = self.db.begin_write()?;
            {
                let mut table = tx.open_table(MAINTENANCE)?;
                for &k in chunk {
                    table.remove(k)?;
                }
            }
            tx.commit()?;
            done.maintenance += chunk.len() as u64;
        }
        if !done.is_empty() {
            self.record_audit(vec![AuditEntry {
                at: now,
                who: "system".into(),
                what: format!(
                    "retention removed {} finished tickets, {} audit records and {} maintenance \
                     windows from before {before} (ms since the epoch)",
                    done.tickets, done.audit, done.maintenance
                ),
                object: "store".into(),
            }])?;
        }
        Ok(done)
    }

    /// Removes up to `limit` audit records from the start of the trail while they are older than
    /// `before`, and moves the anchor to the last one removed, in one transaction.
    fn prune_audit_batch(&self, before: Ms, limit: usize) -> Result<usize, StoreError> {
        let tx = self.db.begin_write()?;
        let removed;
        {
            let mut table = tx.open_table(AUDIT)?;
            let mut last: Option<AuditRecord> = None;
            let mut keys = Vec::new();
            for row in table.iter()?.take(limit) {
                let (k, v) = row?;
                let r: AuditRecord = decode(v.value())?;
                if r.at >= before {
                    break;
                }
                keys.push(k.value());
                last = Some(r);
            }
            for k in &keys {
                table.remove(*k)?;
            }
            removed = keys.len();
            if let Some(r) = last {
                let anchor = Anchor {
                    seq: r.seq,
                    at: r.at,
                    hash: r.hash,
                };
                tx.open_table(ANCHORS)?
                    .insert("audit", encode(&anchor)?.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(removed)
    }

    /// Where the remaining audit trail starts: `None` while retention has removed nothing.
    pub fn audit_anchor(&self) -> Result<Option<Anchor>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(ANCHORS)?;
        let anchor = match table.get("audit")? {
            Some(v) => Some(decode(v.value())?),
            None => None,
        };
        Ok(anchor)
    }
}

/// The next record's seq and the hash it chains from when the trail is empty: after the anchor
/// when retention removed every record, else the genesis.
pub(super) fn chain_start(
    tx: &redb::WriteTransaction,
) -> Result<Option<(u64, [u8; 32])>, StoreError> {
    let table = tx.open_table(ANCHORS)?;
    let anchor = match table.get("audit")? {
        Some(v) => Some(decode::<Anchor>(v.value())?),
        None => None,
    };
    Ok(anchor.map(|a| (a.seq, a.hash)))
}
