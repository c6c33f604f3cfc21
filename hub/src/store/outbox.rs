//! The store's outboxes: notices for the operator's webhook, customer mail, and customer notices
//! for the tenants' webhooks. A row is written in the transaction of the ticket change that caused
//! it, under an id from a counter that never repeats (so the id, and the receiver's idempotency
//! key or Message-ID made from it, is the same on every retry, across restarts), read a page at a
//! time oldest first (`notify::outbox` delivers them) and removed once delivered.

use super::Store;
use super::records::TenantWebhook;
use super::tables::{
    CUSTOMER_HOOKS, MAIL, META, NOTICES, StoreError, TENANT_HOOKS, decode, encode,
};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One of the outboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbox {
    /// [`heartline_engine::Notice`]s for the operator's webhook.
    Notices,
    /// [`super::mail::MailNotice`]s for the customers' mail.
    Mail,
    /// [`super::mail::MailNotice`]s for the tenants' webhooks (only tenants that have one).
    CustomerHooks,
}

impl Outbox {
    fn table(self) -> TableDefinition<'static, u64, &'static [u8]> {
        match self {
            Outbox::Notices => NOTICES,
            Outbox::Mail => MAIL,
            Outbox::CustomerHooks => CUSTOMER_HOOKS,
        }
    }

    /// The `meta` counter of the next id.
    fn counter(self) -> &'static str {
        match self {
            Outbox::Notices => "next_notice",
            Outbox::Mail => "next_mail",
            Outbox::CustomerHooks => "next_customer_hook",
        }
    }
}

/// Queues `items` in `outbox` under fresh ids, inside the caller's transaction.
pub(super) fn queue<T: Serialize>(
    tx: &WriteTransaction,
    outbox: Outbox,
    items: &[T],
) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    let mut meta = tx.open_table(META)?;
    let mut next = meta.get(outbox.counter())?.map_or(1, |v| v.value());
    let mut table = tx.open_table(outbox.table())?;
    for item in items {
        table.insert(next, encode(item)?.as_slice())?;
        next += 1;
    }
    meta.insert(outbox.counter(), next)?;
    Ok(())
}

/// Whether `tenant` has a webhook for customer notices, read inside a write transaction.
pub(super) fn has_webhook(tx: &WriteTransaction, tenant: &str) -> Result<bool, StoreError> {
    Ok(tx.open_table(TENANT_HOOKS)?.get(tenant)?.is_some())
}

impl Store {
    /// Up to `limit` rows of `outbox` with an id above `after`, oldest first.
    pub fn outbox_page<T: DeserializeOwned>(
        &self,
        outbox: Outbox,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, T)>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(outbox.table())?;
        let mut out = Vec::new();
        for row in table.range(after.saturating_add(1)..)?.take(limit) {
            let (k, v) = row?;
            out.push((k.value(), decode(v.value())?));
        }
        Ok(out)
    }

    /// Removes a delivered (or dropped) row.
    pub fn outbox_remove(&self, outbox: Outbox, id: u64) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(outbox.table())?.remove(id)?;
        tx.commit()?;
        Ok(())
    }

    /// The tenant's webhook for customer notices, if the inventory gives it one.
    pub fn tenant_webhook(&self, tenant: &str) -> Result<Option<TenantWebhook>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(TENANT_HOOKS)?;
        Ok(match table.get(tenant)? {
            Some(v) => Some(decode(v.value())?),
            None => None,
        })
    }
}
