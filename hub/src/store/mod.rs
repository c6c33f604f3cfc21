//! The hub's durable store on redb: one file, ACID, crash-safe.
//!
//! One narrow interface, so that a replicated SQL store can replace it when a fleet outgrows one
//! machine (DESIGN.md). Reads take a [`Scope`]; the unscoped loads (`credentials`,
//! `device_states`) exist for the hub's own start-up and are not reachable from any API.
//!
//! Architecture invariant: everything one input changes is written in one write transaction
//! ([`Store::commit`]); acknowledgements leave the hub only after it returns.

mod audit;
pub mod backup;
mod failure;
pub mod mail;
mod migrate;
mod outbox;
pub mod records;
mod reports;
mod retention;
mod scope;
mod tables;

pub use outbox::Outbox;
pub use records::*;
pub use retention::{PRUNE_BATCH, Pruned};
pub use scope::Scope;
pub use tables::StoreError;

/// The page cache a store gets unless its config says otherwise (`[store] cache_mb`).
pub const DEFAULT_CACHE_BYTES: usize = 16 << 20;

use crate::audit::{AuditEntry, AuditRecord, Verdict};
use crate::inventory::Inventory;
use heartline_engine::{
    Changes, DeviceInfo, DeviceMemory, Maintenance, Ms, Notice, Output, Report, Ticket, TicketId,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::Path;
use tables::{
    ANCHORS, AUDIT, CUSTOMER_HOOKS, DEVICE_STATE, DEVICES, ENGINE_DEVICES, ENGINEERS, HISTORY,
    MAIL, MAINTENANCE, MANAGERS, META, NOTICES, PROJECTS, REPORT_MATCHES, SITES, TENANT_HOOKS,
    TENANTS, TICKETS, USERS, decode, encode,
};

/// Bumped whenever a stored record changes shape; a store of another version is refused,
/// except the one before it, which [`migrate`] upgrades when the store opens.
pub const SCHEMA_VERSION: u64 = 5;

/// What [`Store::apply_inventory`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ApplySummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// What the detection engine resumes from after a restart.
pub struct EngineState {
    pub memory: HashMap<String, DeviceMemory>,
    /// Maintenance windows added through the API.
    pub maintenance: Vec<Maintenance>,
    pub tickets: Vec<Ticket>,
    pub next_ticket: TicketId,
}

/// A report to append to a device's history under its number (the device's report count).
pub struct HistoryEntry<'a> {
    pub device: &'a str,
    pub index: u64,
    pub report: &'a Report,
}

pub struct Store {
    db: Database,
    history_len: u64,
    /// Whether notices are kept for a notifier that delivers them (a webhook is configured).
    outbox: std::sync::atomic::AtomicBool,
    /// Whether customer mail notices are kept for the mailer (`[mail]` is configured).
    mail: std::sync::atomic::AtomicBool,
    /// Whether customer notices are kept for the tenants' webhooks (the hub's customer webhook
    /// thread runs).
    customer_hooks: std::sync::atomic::AtomicBool,
}

impl Store {
    /// Opens (or creates) the store file with the default page cache ([`DEFAULT_CACHE_BYTES`]).
    /// `history_len` bounds each device's report history.
    pub fn open(path: &Path, history_len: u64) -> Result<Store, StoreError> {
        Self::open_with_cache(path, history_len, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the store file, caching at most `cache_bytes` of its pages in memory.
    /// redb's own default is 1 GiB, which a growing file fills slowly: the hub's RSS then climbs
    /// for hours (the memory issue), so the hub always states the bound.
    pub fn open_with_cache(
        path: &Path,
        history_len: u64,
        cache_bytes: usize,
    ) -> Result<Store, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)?;
        let tx = db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value());
            match found {
                Some(migrate::FROM) => {
                    let n = migrate::upgrade(&tx)?;
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                    tracing::info!(
                        records = n,
                        from = migrate::FROM,
                        to = SCHEMA_VERSION,
                        "store upgraded"
                    );
                }
                Some(v) if v != SCHEMA_VERSION => {
                    return Err(StoreError::Schema {
                        found: v,
                        expected: SCHEMA_VERSION,
                    });
                }
                Some(_) => {}
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
            }
            // Create every table up front so that readers never meet a missing one.
            for def in [
                TENANTS,
                PROJECTS,
                SITES,
                DEVICES,
                ENGINEERS,
                MANAGERS,
                USERS,
                DEVICE_STATE,
                TENANT_HOOKS,
                REPORT_MATCHES,
            ] {
                tx.open_table(def)?;
            }
            tx.open_table(HISTORY)?;
            tx.open_table(ENGINE_DEVICES)?;
            tx.open_table(TICKETS)?;
            tx.open_table(NOTICES)?;
            tx.open_table(MAIL)?;
            tx.open_table(CUSTOMER_HOOKS)?;
            tx.open_table(MAINTENANCE)?;
            tx.open_table(AUDIT)?;
            tx.open_table(ANCHORS)?;
        }
        tx.commit()?;
        Ok(Store {
            db,
            history_len: history_len.max(1),
            outbox: Default::default(),
            mail: Default::default(),
            customer_hooks: Default::default(),
        })
    }

    /// Keep every notice the engine produces until [`Store::notice_delivered`].
    pub fn keep_notices(&self, on: bool) {
        self.outbox.store(on, std::sync::atomic::Ordering::Release);
    }

    /// Keep a customer mail notice for each ticket step the customer is told of, until
    /// [`Store::mail_sent`].
    pub fn keep_mail(&self, on: bool) {
        self.mail.store(on, std::sync::atomic::Ordering::Release);
    }

    /// Keep a customer notice for each ticket step the customer is told of, for the tenants
    /// that have a webhook, until it is delivered.
    pub fn keep_customer_hooks(&self, on: bool) {
        self.customer_hooks
            .store(on, std::sync::atomic::Ordering::Release);
    }

    /// Customer mail not yet sent, oldest first, with its id (stable across restarts: the mail's
    /// Message-ID).
    pub fn pending_mail(&self, limit: usize) -> Result<Vec<(u64, mail::MailNotice)>, StoreError> {
        self.outbox_page(Outbox::Mail, 0, limit)
    }

    /// Customer notices not yet POSTed to their tenant's webhook, oldest first.
    pub fn pending_customer_hooks(
        &self,
        limit: usize,
    ) -> Result<Vec<(u64, mail::MailNotice)>, StoreError> {
        self.outbox_page(Outbox::CustomerHooks, 0, limit)
    }

    /// Notices not yet delivered, oldest first.
    pub fn pending_notices(&self, limit: usize) -> Result<Vec<(u64, Notice)>, StoreError> {
        self.outbox_page(Outbox::Notices, 0, limit)
    }

    /// The engineer whose API token hashes to `token_sha256`, compared in constant time.
    pub fn engineer_by_token(
        &self,
        token_sha256: &[u8; 32],
    ) -> Result<Option<EngineerRecord>, StoreError> {
        use subtle::ConstantTimeEq;
        Ok(self
            .all::<EngineerRecord>(ENGINEERS)?
            .into_iter()
            .find(|e| {
                e.token_sha256
                    .is_some_and(|h| bool::from(h.ct_eq(token_sha256)))
            }))
    }

    /// Every account; for authentication only (never returned by an API).
    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.all(USERS)
    }

    /// Managers are the operator's staff: only the operator scope lists them.
    pub fn managers(&self, scope: &Scope) -> Result<Vec<ManagerRecord>, StoreError> {
        match scope {
            Scope::Operator => self.all(MANAGERS),
            Scope::Tenant(_) => Ok(Vec::new()),
        }
    }

    /// The unfinished tickets dispatched to one engineer, oldest first.
    pub fn engineer_queue(&self, engineer: &str) -> Result<Vec<Ticket>, StoreError> {
        let mut out: Vec<Ticket> = self
            .tickets(&Scope::Operator)?
            .into_iter()
            .filter(|t| !t.state.is_terminal() && t.engineer.as_deref() == Some(engineer))
            .collect();
        out.reverse();
        Ok(out)
    }

    /// Writes every object of the inventory, in one transaction. Applying the same file twice
    /// changes nothing the second time. Objects absent from the file are left as they are.
    pub fn apply_inventory(&self, inv: &Inventory) -> Result<ApplySummary, StoreError> {
        self.apply_inventory_by(inv, "operator")
    }

    /// [`Store::apply_inventory`], with each created or updated object in the audit trail as done
    /// by `who`.
    pub fn apply_inventory_by(
        &self,
        inv: &Inventory,
        who: &str,
    ) -> Result<ApplySummary, StoreError> {
        let tx = self.db.begin_write()?;
        let mut summary = ApplySummary::default();
        let mut trail = Vec::new();
        let at = crate::audit::now_ms();
        {
            let mut upsert = |def: TableDefinition<&str, &[u8]>,
                              id: &str,
                              bytes: Vec<u8>|
             -> Result<(), StoreError> {
                let mut table = tx.open_table(def)?;
                let old = table.get(id)?.map(|v| v.value().to_vec());
                let what = match old {
                    Some(old) if old == bytes => {
                        summary.unchanged += 1;
                        return Ok(());
                    }
                    Some(_) => {
                        summary.updated += 1;
                        "updated by inventory apply"
                    }
                    None => {
                        summary.created += 1;
                        "created by inventory apply"
                    }
                };
                table.insert(id, bytes.as_slice())?;
                trail.push(crate::audit::AuditEntry {
                    at,
                    who: who.to_string(),
                    what: what.to_string(),
                    object: format!("{}/{id}", def.name()),
                });
                Ok(())
            };
            for t in &inv.tenants {
                upsert(TENANTS, &t.id, encode(t)?)?;
            }
            for p in &inv.projects {
                upsert(PROJECTS, &p.id, encode(p)?)?;
            }
            for s in &inv.sites {
                upsert(SITES, &s.id, encode(s)?)?;
            }
            for d in &inv.devices {
                upsert(DEVICES, &d.info.id, encode(d)?)?;
            }
            for e in &inv.engineers {
                upsert(ENGINEERS, &e.id, encode(e)?)?;
            }
            for m in &inv.managers {
                upsert(MANAGERS, &m.id, encode(m)?)?;
            }
            for u in &inv.users {
                upsert(USERS, &u.id, encode(u)?)?;
            }
            for h in &inv.tenant_webhooks {
                upsert(TENANT_HOOKS, &h.tenant, encode(h)?)?;
            }
            // A tenant of the file without a webhook has none (any more).
            let mut hooks = tx.open_table(TENANT_HOOKS)?;
            for t in &inv.tenants {
                let listed = inv.tenant_webhooks.iter().any(|h| h.tenant == t.id);
                if !listed && hooks.remove(t.id.as_str())?.is_some() {
                    summary.updated += 1;
                    trail.push(crate::audit::AuditEntry {
                        at,
                        who: who.to_string(),
                        what: "removed by inventory apply".to_string(),
                        object: format!("{}/{}", TENANT_HOOKS.name(), t.id),
                    });
                }
            }
        }
        audit::append(&tx, trail)?;
        tx.commit()?;
        Ok(summary)
    }

    /// Every device with its credentials: the hub's authentication and verification directory.
    pub fn credentials(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.all(DEVICES)
    }

    /// The last committed state of every device, to resume ingest after a restart.
    pub fn device_states(&self) -> Result<HashMap<String, DeviceStateRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DEVICE_STATE)?;
        let mut out = HashMap::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.insert(k.value().to_string(), decode(v.value())?);
        }
        Ok(out)
    }

    /// Commits a batch of ingested messages (new device states and reports) in one durable
    /// transaction: either all of it is on disk when this returns `Ok`, or none of it.
    pub fn commit(
        &self,
        states: &[(&str, &DeviceStateRecord)],
        reports: &[HistoryEntry<'_>],
        engine: &Changes,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut memory = tx.open_table(ENGINE_DEVICES)?;
            for (device, mem) in &engine.devices {
                memory.insert(device.as_str(), encode(mem)?.as_slice())?;
            }
            let mut tickets = tx.open_table(TICKETS)?;
            audit::append(&tx, audit::ticket_entries(&tickets, &engine.tickets)?)?;
            let mailing = self.mail.load(std::sync::atomic::Ordering::Acquire);
            let hooking = self
                .customer_hooks
                .load(std::sync::atomic::Ordering::Acquire);
            if mailing || hooking {
                let steps = mail::notices(&tickets, &engine.tickets)?;
                if mailing {
                    outbox::queue(&tx, Outbox::Mail, &steps)?;
                }
                if hooking && !steps.is_empty() {
                    let mut hooked = Vec::new();
                    for n in steps {
                        if outbox::has_webhook(&tx, &n.tenant)? {
                            hooked.push(n);
                        }
                    }
                    outbox::queue(&tx, Outbox::CustomerHooks, &hooked)?;
                }
            }
            for t in &engine.tickets {
                tickets.insert(t.id, encode(t)?.as_slice())?;
            }
            if !engine.tickets.is_empty() {
                tx.open_table(META)?
                    .insert("next_ticket", engine.next_ticket)?;
            }
            if !engine.maintenance.is_empty() {
                let mut windows = tx.open_table(MAINTENANCE)?;
                let first = windows.last()?.map_or(1, |(k, _)| k.value() + 1);
                for (key, m) in (first..).zip(&engine.maintenance) {
                    windows.insert(key, encode(m)?.as_slice())?;
                }
            }
            if self.outbox.load(std::sync::atomic::Ordering::Acquire) {
                let notices: Vec<&Notice> = engine
                    .outputs
                    .iter()
                    .filter_map(|o| match o {
                        Output::Notify(n) => Some(n),
                        _ => None,
                    })
                    .collect();
                outbox::queue(&tx, Outbox::Notices, &notices)?;
            }
            let mut table = tx.open_table(DEVICE_STATE)?;
            for (device, state) in states {
                table.insert(*device, encode(*state)?.as_slice())?;
            }
            let mut history = tx.open_table(HISTORY)?;
            for e in reports {
                history.insert((e.device, e.index), encode(e.report)?.as_slice())?;
                if e.index >= self.history_len {
                    history.remove((e.device, e.index - self.history_len))?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// What the engine needs to resume: every device's memory, the next ticket id, and every
    /// ticket except the finished ones closed before `settled_before` (past the reopen window:
    /// the engine would let them go at once, see `Engine::evict_settled`).
    pub fn engine_state(&self, settled_before: Ms) -> Result<EngineState, StoreError> {
        let tx = self.db.begin_read()?;
        let mut memory = HashMap::new();
        for row in tx.open_table(ENGINE_DEVICES)?.iter()? {
            let (k, v) = row?;
            memory.insert(k.value().to_string(), decode(v.value())?);
        }
        let mut tickets = Vec::new();
        for row in tx.open_table(TICKETS)?.iter()? {
            let t: Ticket = decode(row?.1.value())?;
            let settled = t.state.is_terminal() && t.closed_at.is_some_and(|c| c < settled_before);
            if !settled {
                tickets.push(t);
            }
        }
        let next_ticket = tx
            .open_table(META)?
            .get("next_ticket")?
            .map_or(1, |v| v.value());
        let mut maintenance = Vec::new();
        for row in tx.open_table(MAINTENANCE)?.iter()? {
            maintenance.push(decode(row?.1.value())?);
        }
        Ok(EngineState {
            maintenance,
            memory,
            tickets,
            next_ticket,
        })
    }

    /// A tenant's time zone (the default one for an unknown tenant or an unreadable store).
    pub fn tenant_zone(&self, tenant: &str) -> crate::localtime::Zone {
        let name = self
            .tenants(&Scope::Operator)
            .ok()
            .and_then(|ts| ts.into_iter().find(|t| t.id == tenant))
            .map(|t| t.time_zone)
            .unwrap_or_default();
        crate::localtime::Zone::or_default(&name)
    }

    /// Tickets the scope may see, newest first.
    pub fn tickets(&self, scope: &Scope) -> Result<Vec<Ticket>, StoreError> {
        let tx = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in tx.open_table(TICKETS)?.iter()?.rev() {
            let t: Ticket = decode(row?.1.value())?;
            if scope.allows(&t.tenant) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// One ticket, or `None` when it does not exist or lies outside the scope.
    pub fn ticket(&self, scope: &Scope, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(v) = tx.open_table(TICKETS)?.get(id)? else {
            return Ok(None);
        };
        let t: Ticket = decode(v.value())?;
        Ok(scope.allows(&t.tenant).then_some(t))
    }

    pub fn tenants(&self, scope: &Scope) -> Result<Vec<TenantRecord>, StoreError> {
        Ok(self
            .all::<TenantRecord>(TENANTS)?
            .into_iter()
            .filter(|t| scope.allows(&t.id))
            .collect())
    }

    pub fn projects(&self, scope: &Scope) -> Result<Vec<ProjectRecord>, StoreError> {
        Ok(self
            .all::<ProjectRecord>(PROJECTS)?
            .into_iter()
            .filter(|p| scope.allows(&p.tenant))
            .collect())
    }

    pub fn sites(&self, scope: &Scope) -> Result<Vec<SiteRecord>, StoreError> {
        Ok(self
            .all::<SiteRecord>(SITES)?
            .into_iter()
            .filter(|s| scope.allows(&s.tenant))
            .collect())
    }

    pub fn devices(&self, scope: &Scope) -> Result<Vec<DeviceInfo>, StoreError> {
        Ok(self
            .all::<DeviceRecord>(DEVICES)?
            .into_iter()
            .map(|d| d.info)
            .filter(|d| scope.allows(&d.tenant))
            .collect())
    }

    /// Engineers are the operator's staff: only the operator scope lists them.
    pub fn engineers(&self, scope: &Scope) -> Result<Vec<EngineerRecord>, StoreError> {
        match scope {
            Scope::Operator => self.all(ENGINEERS),
            Scope::Tenant(_) => Ok(Vec::new()),
        }
    }

    /// One device, or `None` when it does not exist or lies outside the scope.
    pub fn device(&self, scope: &Scope, id: &str) -> Result<Option<DeviceInfo>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DEVICES)?;
        let Some(bytes) = table.get(id)? else {
            return Ok(None);
        };
        let record: DeviceRecord = decode(bytes.value())?;
        Ok(scope.allows(&record.info.tenant).then_some(record.info))
    }

    pub fn device_state(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<DeviceStateRecord>, StoreError> {
        if self.device(scope, id)?.is_none() {
            return Ok(None);
        }
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DEVICE_STATE)?;
        table.get(id)?.map(|v| decode(v.value())).transpose()
    }

    /// The device's most recent reports, oldest first, at most `limit`.
    pub fn history(
        &self,
        scope: &Scope,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Report>, StoreError> {
        if self.device(scope, id)?.is_none() {
            return Ok(Vec::new());
        }
        let tx = self.db.begin_read()?;
        let table = tx.open_table(HISTORY)?;
        let mut newest_first = Vec::new();
        for row in table.range((id, 0)..=(id, u64::MAX))?.rev().take(limit) {
            let (_, v) = row?;
            newest_first.push(decode(v.value())?);
        }
        newest_first.reverse();
        Ok(newest_first)
    }

    fn all<T: DeserializeOwned>(
        &self,
        def: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<T>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(def)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }
}

/// The audit trail (`crate::audit`): its reads, and the actions that change no stored object.
impl Store {
    /// Walks the whole chain, from the retention anchor if records were removed.
    pub fn verify_audit(&self) -> Result<Verdict, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(AUDIT)?;
        let mut rows = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            rows.push((k.value(), decode::<AuditRecord>(v.value()).ok()));
        }
        let anchor = match tx.open_table(ANCHORS)?.get("audit")? {
            Some(v) => Some(decode::<crate::audit::Anchor>(v.value())?),
            None => None,
        };
        Ok(crate::audit::verify_from(anchor.as_ref(), rows))
    }

    /// Appends people's actions that change no stored object (a login, a lock-out) to the audit
    /// trail, in a transaction of their own.
    pub fn record_audit(&self, entries: Vec<AuditEntry>) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        audit::append(&tx, entries)?;
        tx.commit()?;
        Ok(())
    }

    /// Records after `after`, oldest first, at most `limit`. The trail is the operator's: other
    /// scopes see nothing.
    pub fn audit_trail(
        &self,
        scope: &Scope,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        if !matches!(scope, Scope::Operator) {
            return Ok(Vec::new());
        }
        let tx = self.db.begin_read()?;
        let table = tx.open_table(AUDIT)?;
        let mut out = Vec::new();
        for row in table.range(after.saturating_add(1)..)?.take(limit) {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }
}
