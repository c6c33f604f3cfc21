//! The store's tables, how a record is encoded in them (postcard), and what can go wrong: what
//! every part of the store writes and reads through.

use redb::TableDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(super) const TENANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tenants");
pub(super) const PROJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("projects");
pub(super) const SITES: TableDefinition<&str, &[u8]> = TableDefinition::new("sites");
pub(super) const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");
pub(super) const ENGINEERS: TableDefinition<&str, &[u8]> = TableDefinition::new("engineers");
pub(super) const MANAGERS: TableDefinition<&str, &[u8]> = TableDefinition::new("managers");
/// User id → the person's account (role, password hash, token hashes).
pub(super) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
pub(super) const DEVICE_STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("device_state");
/// (device id, report number) → report; the oldest entries beyond the bound are deleted.
pub(super) const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");
/// Device id → what the detection engine remembers of it (faults, deadlines, trend samples).
pub(super) const ENGINE_DEVICES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("engine_devices");
/// Ticket id → ticket with its timeline.
pub(super) const TICKETS: TableDefinition<u64, &[u8]> = TableDefinition::new("tickets");
/// Sequence → a maintenance window added through the API (config windows live in hub.toml).
pub(super) const MAINTENANCE: TableDefinition<u64, &[u8]> = TableDefinition::new("maintenance");
/// Notice id → a notification not yet delivered to the webhook (the notifier's outbox).
pub(super) const NOTICES: TableDefinition<u64, &[u8]> = TableDefinition::new("notices");
/// Mail id → a customer notice not yet mailed (`store::mail`, the mailer's outbox).
pub(super) const MAIL: TableDefinition<u64, &[u8]> = TableDefinition::new("customer_mail");
/// Id → a customer notice not yet POSTed to its tenant's webhook (`store::outbox`).
pub(super) const CUSTOMER_HOOKS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("customer_webhook");
/// Tenant id → the tenant's webhook for customer notices (URL and signing secret), from the
/// inventory; kept apart from the tenant record that pages read.
pub(super) const TENANT_HOOKS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("tenant_webhooks");
/// `ticket/at` → why a customer's report went to its device (`store::reports`).
pub(super) const REPORT_MATCHES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("report_matches");
/// Sequence number → audit record (`crate::audit`), append-only and hash-chained.
pub(super) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// `"audit"` → the last audit record retention removed (`crate::audit::Anchor`): the chain
/// that remains continues from its hash.
pub(super) const ANCHORS: TableDefinition<&str, &[u8]> = TableDefinition::new("anchors");

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O or database error: {0}")]
    Db(#[from] redb::Error),
    #[error("a stored record could not be decoded ({0}); the store file may be damaged")]
    Corrupt(#[from] postcard::Error),
    #[error(
        "the store was written by schema version {found}, this hub reads version {expected}; \
         use the hub release that wrote it or start from a new store file"
    )]
    Schema { found: u64, expected: u64 },
}

// redb has one error type per operation; they all convert into `redb::Error`.
macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
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

pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    Ok(postcard::to_allocvec(value)?)
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(postcard::from_bytes(bytes)?)
}
