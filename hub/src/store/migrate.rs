//! Upgrades a store written by an older hub in place, inside the transaction that opens it.
//!
//! Version 4 → 5: timelines became structured ([`heartline_engine::What`]) and tenants got a
//! time zone and a language. An old timeline entry keeps its English sentence as
//! [`What::Legacy`], with the state change it starts with ("open → dispatched: …") recovered so
//! that the progress tracker still finds its steps; an old notice in the outbox keeps its text the
//! same way; a tenant gets `Asia/Shanghai` and Chinese.

use super::records::TenantRecord;
use super::tables::{NOTICES, StoreError, TENANTS, TICKETS, decode, encode};
use crate::i18n::Lang;
use crate::localtime::DEFAULT_ZONE;
use heartline_engine::{
    Actor, Clocks, DispatchState, FaultKind, Ms, Notice, NoticeKind, Rating, SlaTimes, Ticket,
    TicketId, TicketState, TimelineEntry, What,
};
use heartline_proto::Severity;
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// The version [`upgrade`] starts from.
pub(super) const FROM: u64 = 4;

#[derive(Serialize, Deserialize)]
pub(super) struct EntryV4 {
    pub at: Ms,
    pub actor: Actor,
    pub what: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct DispatchV4 {
    pub clocks: Option<Clocks>,
    pub passed_over: Vec<String>,
    pub unassigned: bool,
    pub retry_at: Option<Ms>,
    pub offers_missed: u32,
    pub reason: String,
}

/// A ticket as version 4 stored it: the same fields, in the same order, as a sentence timeline.
#[derive(Serialize, Deserialize)]
pub(super) struct TicketV4 {
    pub id: TicketId,
    pub tenant: String,
    pub project: String,
    pub site: String,
    pub device: String,
    pub root: FaultKind,
    pub title: String,
    pub severity: Severity,
    pub state: TicketState,
    pub engineer: Option<String>,
    pub opened_at: Ms,
    pub updated_at: Ms,
    pub closed_at: Option<Ms>,
    pub affected: Vec<String>,
    pub flapping: bool,
    pub predicted_failure_at: Option<Ms>,
    pub verify_until: Option<Ms>,
    pub sla: SlaTimes,
    pub respond_by: Ms,
    pub repair_by: Ms,
    pub reopened: u32,
    pub timeline: Vec<EntryV4>,
    pub dispatch: DispatchV4,
    pub customer_reported_at: Option<Ms>,
    pub fault_since: Option<Ms>,
    pub accepted_at: Option<Ms>,
    pub rating: Option<Rating>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct NoticeV4 {
    pub ticket: TicketId,
    pub at: Ms,
    pub to: String,
    pub kind: NoticeKind,
    pub text: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct TenantV4 {
    pub id: String,
    pub name: String,
}

/// "from → to" or "from → to: why" as the old `set_state` wrote it; anything else has no change.
fn state_change(text: &str) -> (Option<(TicketState, TicketState)>, What) {
    for from in TicketState::ALL {
        let Some(rest) = text
            .strip_prefix(from.as_str())
            .and_then(|r| r.strip_prefix(" → "))
        else {
            continue;
        };
        for to in TicketState::ALL {
            let Some(tail) = rest.strip_prefix(to.as_str()) else {
                continue;
            };
            let what = match tail.strip_prefix(": ") {
                _ if tail.is_empty() => What::Moved,
                Some(why) => What::Legacy {
                    text: why.to_string(),
                },
                None => continue,
            };
            return (Some((from, to)), what);
        }
    }
    (
        None,
        What::Legacy {
            text: text.to_string(),
        },
    )
}

fn legacy(text: String) -> Option<What> {
    (!text.is_empty()).then_some(What::Legacy { text })
}

pub(super) fn ticket(old: TicketV4) -> Ticket {
    let timeline = old
        .timeline
        .into_iter()
        .map(|e| {
            let (change, what) = state_change(&e.what);
            TimelineEntry {
                at: e.at,
                actor: e.actor,
                change,
                what,
            }
        })
        .collect();
    Ticket {
        id: old.id,
        tenant: old.tenant,
        project: old.project,
        site: old.site,
        device: old.device,
        root: old.root,
        title: old.title,
        severity: old.severity,
        state: old.state,
        engineer: old.engineer,
        opened_at: old.opened_at,
        updated_at: old.updated_at,
        closed_at: old.closed_at,
        affected: old.affected,
        flapping: old.flapping,
        predicted_failure_at: old.predicted_failure_at,
        verify_until: old.verify_until,
        sla: old.sla,
        respond_by: old.respond_by,
        repair_by: old.repair_by,
        reopened: old.reopened,
        timeline,
        dispatch: DispatchState {
            clocks: old.dispatch.clocks,
            passed_over: old.dispatch.passed_over,
            unassigned: old.dispatch.unassigned,
            retry_at: old.dispatch.retry_at,
            offers_missed: old.dispatch.offers_missed,
            reason: legacy(old.dispatch.reason),
        },
        customer_reported_at: old.customer_reported_at,
        fault_since: old.fault_since,
        accepted_at: old.accepted_at,
        rating: old.rating,
    }
}

/// Rewrites every ticket, queued notice and tenant of a version-4 store, inside `tx`.
pub(super) fn upgrade(tx: &WriteTransaction) -> Result<usize, StoreError> {
    let mut rewritten = 0;
    let mut table = tx.open_table(TICKETS)?;
    let old: Vec<(u64, TicketV4)> = table
        .iter()?
        .map(|row| {
            let (k, v) = row?;
            Ok((k.value(), decode(v.value())?))
        })
        .collect::<Result<_, StoreError>>()?;
    for (id, t) in old {
        table.insert(id, encode(&ticket(t))?.as_slice())?;
        rewritten += 1;
    }
    let mut table = tx.open_table(NOTICES)?;
    let old: Vec<(u64, NoticeV4)> = table
        .iter()?
        .map(|row| {
            let (k, v) = row?;
            Ok((k.value(), decode(v.value())?))
        })
        .collect::<Result<_, StoreError>>()?;
    for (id, n) in old {
        let new = Notice {
            ticket: n.ticket,
            at: n.at,
            to: n.to,
            kind: n.kind,
            what: What::Legacy { text: n.text },
        };
        table.insert(id, encode(&new)?.as_slice())?;
        rewritten += 1;
    }
    let mut table = tx.open_table(TENANTS)?;
    let old: Vec<(String, TenantV4)> = table
        .iter()?
        .map(|row| {
            let (k, v) = row?;
            Ok((k.value().to_string(), decode(v.value())?))
        })
        .collect::<Result<_, StoreError>>()?;
    for (id, t) in old {
        let new = TenantRecord {
            id: t.id,
            name: t.name,
            time_zone: DEFAULT_ZONE.to_string(),
            language: Lang::default(),
            email: Vec::new(),
        };
        table.insert(id.as_str(), encode(&new)?.as_slice())?;
        rewritten += 1;
    }
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_sentences_keep_their_state_change() {
        use TicketState::*;
        let check = |text: &str, change: Option<(TicketState, TicketState)>, what: What| {
            assert_eq!(state_change(text), (change, what), "{text}");
        };
        let legacy = |t: &str| What::Legacy { text: t.into() };
        check(
            "dispatched → accepted",
            Some((Dispatched, Accepted)),
            What::Moved,
        );
        check(
            "open → dispatched: dispatched to eng-0",
            Some((Open, Dispatched)),
            legacy("dispatched to eng-0"),
        );
        check(
            "on site → resolved, awaiting verification: replaced the PoE injector",
            Some((OnSite, Resolved)),
            legacy("replaced the PoE injector"),
        );
        check(
            "opened: no report for 20 s",
            None,
            legacy("opened: no report for 20 s"),
        );
        check("open → nowhere", None, legacy("open → nowhere"));
    }

    /// A store file as version 4 wrote it: a ticket, a queued notice and a tenant.
    fn v4_store(path: &std::path::Path) {
        use super::super::tables::META;
        let db = redb::Database::create(path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            tx.open_table(META)
                .unwrap()
                .insert("schema_version", FROM)
                .unwrap();
            let t = TicketV4 {
                id: 7,
                tenant: "acme".into(),
                project: "acme-p".into(),
                site: "s".into(),
                device: "cam-1".into(),
                root: FaultKind::Silent,
                title: "cam-1: no report since its declared check-in".into(),
                severity: Severity::Major,
                state: TicketState::Accepted,
                engineer: Some("eng-0".into()),
                opened_at: 1_000,
                updated_at: 3_000,
                closed_at: None,
                affected: vec![],
                flapping: false,
                predicted_failure_at: None,
                verify_until: None,
                sla: SlaTimes {
                    respond: 60_000,
                    repair: 600_000,
                },
                respond_by: 61_000,
                repair_by: 601_000,
                reopened: 0,
                timeline: vec![
                    EntryV4 {
                        at: 1_000,
                        actor: Actor::System,
                        what: "opened: no report for 20 s".into(),
                    },
                    EntryV4 {
                        at: 2_000,
                        actor: Actor::System,
                        what: "open → dispatched: dispatched to eng-0".into(),
                    },
                    EntryV4 {
                        at: 3_000,
                        actor: Actor::Engineer("eng-0".into()),
                        what: "dispatched → accepted".into(),
                    },
                ],
                dispatch: DispatchV4 {
                    clocks: None,
                    passed_over: vec![],
                    unassigned: false,
                    retry_at: None,
                    offers_missed: 0,
                    reason: "chosen: eng-0".into(),
                },
                customer_reported_at: None,
                fault_since: Some(500),
                accepted_at: Some(3_000),
                rating: None,
            };
            tx.open_table(TICKETS)
                .unwrap()
                .insert(7, encode(&t).unwrap().as_slice())
                .unwrap();
            let n = NoticeV4 {
                ticket: 7,
                at: 2_000,
                to: "eng-0".into(),
                kind: NoticeKind::Dispatched,
                text: "cam-1: no report since its declared check-in".into(),
            };
            tx.open_table(NOTICES)
                .unwrap()
                .insert(1, encode(&n).unwrap().as_slice())
                .unwrap();
            let tenant = TenantV4 {
                id: "acme".into(),
                name: "ACME".into(),
            };
            tx.open_table(TENANTS)
                .unwrap()
                .insert("acme", encode(&tenant).unwrap().as_slice())
                .unwrap();
        }
        tx.commit().unwrap();
    }

    #[test]
    fn a_version_4_store_opens_with_its_tickets_notices_and_tenants() {
        use crate::store::{Scope, Store};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.redb");
        v4_store(&path);
        let store = Store::open(&path, 10).unwrap();
        let t = store.ticket(&Scope::Operator, 7).unwrap().unwrap();
        assert_eq!(t.state, TicketState::Accepted);
        let changes: Vec<_> = t.timeline.iter().map(|e| e.change).collect();
        use TicketState::*;
        assert_eq!(
            changes,
            vec![None, Some((Open, Dispatched)), Some((Dispatched, Accepted))]
        );
        assert_eq!(
            t.timeline[0].what,
            What::Legacy {
                text: "opened: no report for 20 s".into()
            }
        );
        assert_eq!(
            t.dispatch.reason,
            Some(What::Legacy {
                text: "chosen: eng-0".into()
            })
        );
        let notices = store.pending_notices(10).unwrap();
        assert_eq!(notices.len(), 1);
        assert!(matches!(&notices[0].1.what, What::Legacy { text } if text.starts_with("cam-1")));
        let tenants = store.tenants(&Scope::Operator).unwrap();
        assert_eq!(
            (tenants[0].time_zone.as_str(), tenants[0].language),
            ("Asia/Shanghai", Lang::ZhCn)
        );
        drop(store);
        // Opened again: already version 5, nothing to do, the same ticket.
        let store = Store::open(&path, 10).unwrap();
        assert_eq!(store.ticket(&Scope::Operator, 7).unwrap().unwrap(), t);
    }
}
