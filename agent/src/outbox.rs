//! The on-disk outbox: every report is written here before it is sent and stays until the hub's
//! ack covers it, across hub outages and agent restarts. Bounded: when full, the oldest periodic
//! report is dropped first (reports caused by a check changing state are kept), and every drop is
//! counted so the next report can say so.

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Local order → entry. The order is the send order, across boots.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub boot_id: u64,
    pub sequence: u64,
    /// A routine report (droppable first) rather than one caused by a change.
    pub periodic: bool,
    /// The signed envelope, ready to publish.
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(
        "the outbox file cannot be written or read ({0}); if its disk is full, free space and \
         start the agent again: the reports it holds are kept"
    )]
    Db(#[from] redb::Error),
    #[error("an outbox entry could not be decoded ({0}); the outbox file may be damaged")]
    Corrupt(#[from] postcard::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for OutboxError {
            fn from(e: $t) -> Self {
                OutboxError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub struct Outbox {
    db: Database,
    max: usize,
}

impl Outbox {
    pub fn open(path: &Path, max: usize) -> Result<Outbox, OutboxError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(ENTRIES)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(Outbox {
            db,
            max: max.max(1),
        })
    }

    fn meta(&self, name: &str) -> Result<u64, OutboxError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(META)?.get(name)?.map_or(0, |v| v.value()))
    }

    /// Numbers and stores a new report in one transaction: the sequence continues after an agent
    /// restart within the same boot and starts at 1 on a new boot, and a crash can neither lose a
    /// numbered report nor skip a number. `build` makes the signed payload for the sequence.
    /// If the outbox is full, the oldest periodic entry goes first (or the oldest of all when
    /// every entry is a change report). Returns the entry and how many were dropped.
    pub fn append(
        &self,
        boot_id: u64,
        periodic: bool,
        build: impl FnOnce(u64) -> Vec<u8>,
    ) -> Result<(Entry, usize), OutboxError> {
        let tx = self.db.begin_write()?;
        let (entry, dropped) = {
            let mut meta = tx.open_table(META)?;
            let same_boot = meta.get("boot_id")?.map(|v| v.value()) == Some(boot_id);
            let sequence = if same_boot {
                meta.get("sequence")?.map_or(0, |v| v.value())
            } else {
                0
            } + 1;
            meta.insert("boot_id", boot_id)?;
            meta.insert("sequence", sequence)?;
            let entry = Entry {
                boot_id,
                sequence,
                periodic,
                payload: build(sequence),
            };
            let mut entries = tx.open_table(ENTRIES)?;
            let mut dropped = 0;
            while entries.len()? as usize >= self.max {
                let mut victim = None;
                for row in entries.iter()? {
                    let (k, v) = row?;
                    let e: Entry = postcard::from_bytes(v.value())?;
                    if e.periodic {
                        victim = Some(k.value());
                        break;
                    }
                }
                let victim = match victim {
                    Some(k) => k,
                    None => entries
                        .first()?
                        .map(|(k, _)| k.value())
                        .expect("full outbox has a first entry"),
                };
                entries.remove(victim)?;
                dropped += 1;
            }
            let next = entries.last()?.map_or(0, |(k, _)| k.value() + 1);
            entries.insert(next, postcard::to_allocvec(&entry)?.as_slice())?;
            if dropped > 0 {
                let total = meta.get("dropped")?.map_or(0, |v| v.value());
                meta.insert("dropped", total + dropped as u64)?;
            }
            (entry, dropped)
        };
        tx.commit()?;
        Ok((entry, dropped))
    }

    /// The boot the agent last started in, to tell a reboot from an agent restart.
    pub fn last_boot(&self) -> Result<Option<u64>, OutboxError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(META)?.get("last_boot")?.map(|v| v.value()))
    }

    pub fn set_last_boot(&self, boot_id: u64) -> Result<(), OutboxError> {
        let tx = self.db.begin_write()?;
        tx.open_table(META)?.insert("last_boot", boot_id)?;
        tx.commit()?;
        Ok(())
    }

    /// Reports dropped because the outbox was full, since the agent first started.
    pub fn dropped(&self) -> Result<u64, OutboxError> {
        self.meta("dropped")
    }

    /// Removes every entry of `boot_id` with a sequence at or below `sequence`.
    pub fn ack(&self, boot_id: u64, sequence: u64) -> Result<usize, OutboxError> {
        let tx = self.db.begin_write()?;
        let mut removed = 0;
        {
            let mut entries = tx.open_table(ENTRIES)?;
            let mut covered = Vec::new();
            for row in entries.iter()? {
                let (k, v) = row?;
                let e: Entry = postcard::from_bytes(v.value())?;
                if e.boot_id == boot_id && e.sequence <= sequence {
                    covered.push(k.value());
                }
            }
            for k in covered {
                entries.remove(k)?;
                removed += 1;
            }
        }
        tx.commit()?;
        Ok(removed)
    }

    /// Every entry still waiting for an ack, oldest first.
    pub fn pending(&self) -> Result<Vec<Entry>, OutboxError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(ENTRIES)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            out.push(postcard::from_bytes(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn len(&self) -> Result<usize, OutboxError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(ENTRIES)?.len()? as usize)
    }

    pub fn is_empty(&self) -> Result<bool, OutboxError> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(o: &Outbox, boot_id: u64, periodic: bool) -> usize {
        o.append(boot_id, periodic, |s| vec![s as u8]).unwrap().1
    }

    fn seqs(o: &Outbox) -> Vec<(u64, u64)> {
        o.pending()
            .unwrap()
            .iter()
            .map(|e| (e.boot_id, e.sequence))
            .collect()
    }

    #[test]
    fn keeps_order_acks_by_boot_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.redb");
        {
            let o = Outbox::open(&path, 100).unwrap();
            for _ in 1..=3 {
                add(&o, 7, true);
            }
            assert_eq!(o.ack(7, 2).unwrap(), 2);
        }
        let o = Outbox::open(&path, 100).unwrap();
        let (e, _) = o.append(7, true, |_| vec![]).unwrap();
        assert_eq!(
            e.sequence, 4,
            "same boot: the sequence continues after a restart"
        );
        let (e, _) = o.append(8, true, |_| vec![]).unwrap();
        assert_eq!(e.sequence, 1, "new boot: it restarts");
        assert_eq!(seqs(&o), vec![(7, 3), (7, 4), (8, 1)]);
        assert_eq!(o.ack(8, 1).unwrap(), 1, "an ack covers its own boot only");
        assert_eq!(seqs(&o), vec![(7, 3), (7, 4)]);
    }

    #[test]
    fn when_full_drops_the_oldest_periodic_report_first_and_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(&dir.path().join("o.redb"), 3).unwrap();
        add(&o, 1, false);
        add(&o, 1, true);
        add(&o, 1, true);
        assert_eq!(add(&o, 1, false), 1);
        assert_eq!(
            seqs(&o),
            vec![(1, 1), (1, 3), (1, 4)],
            "the oldest periodic (2) went, the change report (1) stayed"
        );
        add(&o, 1, false);
        add(&o, 1, false);
        assert_eq!(
            seqs(&o),
            vec![(1, 4), (1, 5), (1, 6)],
            "only change reports left: the oldest goes"
        );
        assert_eq!(o.dropped().unwrap(), 3);
    }
}
