//! Retention through the store: what `prune` removes (finished tickets, audit records and ended
//! maintenance windows older than the cut) and keeps (unfinished tickets however old, everything
//! newer), in small batches, with the audit chain still verifying from its anchor afterwards,
//! also when every record was removed.

mod common;

use common::*;
use heartline_engine::{Engine, EngineConfig, HOUR, Input, Maintenance, Ms};
use heartline_hub::audit::{AuditEntry, Verdict};
use heartline_hub::store::{Scope, Store};
use heartline_proto::CheckState;

const NOW: Ms = MON_10;
const DAY: Ms = 24 * HOUR;

/// A store holding, from 100 days ago: a finished ticket, an unfinished one and an ended
/// maintenance window; from 2 days ago: a finished ticket; and their audit records.
fn store_with_history(dir: &std::path::Path) -> Store {
    let store = Store::open(&dir.join("s.redb"), 10).unwrap();
    let mut engine = Engine::new(EngineConfig::default(), vec![camera()]);
    let old = NOW - 100 * DAY;
    blip(&mut engine, old);
    send(&mut engine, old + HOUR, &check("link", CheckState::Crit));
    let window = Maintenance {
        scope: "s".into(),
        from: old,
        until: old + 2 * HOUR,
        reason: "core switch upgrade".into(),
    };
    engine
        .handle(old + HOUR, Input::Maintenance(window))
        .unwrap();
    store.commit(&[], &[], &engine.take_changes()).unwrap();
    let recent = NOW - 2 * DAY;
    blip(&mut engine, recent);
    store.commit(&[], &[], &engine.take_changes()).unwrap();
    store
}

#[test]
fn prune_removes_what_finished_before_the_cut_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_history(dir.path());
    let before = NOW - 30 * DAY;
    let tickets = store.tickets(&Scope::Operator).unwrap();
    let expect_kept: Vec<u64> = tickets
        .iter()
        .filter(|t| !(t.state.is_terminal() && t.closed_at.is_some_and(|c| c < before)))
        .map(|t| t.id)
        .rev()
        .collect();
    assert!(
        expect_kept.len() >= 2 && expect_kept.len() < tickets.len(),
        "the history must have something to remove and to keep: {tickets:#?}"
    );
    let trail = store.audit_trail(&Scope::Operator, 0, 10_000).unwrap();
    let old_records = trail.iter().filter(|r| r.at < before).count() as u64;
    assert!(old_records > 2 && (old_records as usize) < trail.len());

    // Why a customer report went to a ticket goes with the ticket; a kept ticket keeps it.
    let why = |t: u64| heartline_hub::classify::matching::Reason::DeviceNamed {
        device: format!("for {t}"),
    };
    let removed = tickets
        .iter()
        .find(|t| !expect_kept.contains(&t.id))
        .unwrap()
        .id;
    for t in [removed, expect_kept[0]] {
        store.put_report_match(t, NOW - 200 * DAY, &why(t)).unwrap();
    }

    // Batches of two: several transactions for each kind.
    let pruned = store.prune(before, NOW, 2).unwrap();
    assert_eq!(pruned.tickets as usize, tickets.len() - expect_kept.len());
    assert_eq!(pruned.audit, old_records);
    assert_eq!(pruned.maintenance, 1);
    let kept: Vec<u64> = store
        .tickets(&Scope::Operator)
        .unwrap()
        .iter()
        .map(|t| t.id)
        .rev()
        .collect();
    assert_eq!(kept, expect_kept);
    assert!(store.report_matches(removed).unwrap().is_empty());
    assert_eq!(
        store.report_matches(expect_kept[0]).unwrap(),
        vec![(NOW - 200 * DAY, why(expect_kept[0]))]
    );
    assert!(store.engine_state(0).unwrap().maintenance.is_empty());

    // The anchor is the last removed record; the rest (plus prune's own record) verifies.
    let anchor = store.audit_anchor().unwrap().expect("an anchor");
    assert_eq!(anchor.seq, old_records);
    assert_eq!(anchor.hash, trail[old_records as usize - 1].hash);
    let after = store.audit_trail(&Scope::Operator, 0, 10_000).unwrap();
    assert_eq!(after.first().unwrap().seq, old_records + 1);
    assert!(after.last().unwrap().what.contains("retention removed"));
    assert_eq!(
        store.verify_audit().unwrap(),
        Verdict::Intact {
            records: after.len() as u64,
            head: after.last().unwrap().hash
        }
    );
    // Nothing more to remove: nothing removed, nothing recorded.
    assert!(store.prune(before, NOW, 2).unwrap().is_empty());
    assert_eq!(
        store.audit_trail(&Scope::Operator, 0, 10_000).unwrap(),
        after
    );
}

#[test]
fn a_trail_pruned_to_nothing_continues_after_its_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_history(dir.path());
    let last = store.audit_trail(&Scope::Operator, 0, 10_000).unwrap();
    let last = last.last().unwrap().clone();
    // Cut after every record: the trail holds only prune's own record, chained to the anchor.
    let pruned = store.prune(NOW, NOW + DAY, 1_000).unwrap();
    assert_eq!(pruned.audit, last.seq);
    let trail = store.audit_trail(&Scope::Operator, 0, 10).unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].seq, last.seq + 1);
    store
        .record_audit(vec![AuditEntry {
            at: NOW + DAY,
            who: "operator:ops".into(),
            what: "login".into(),
            object: "session".into(),
        }])
        .unwrap();
    let Verdict::Intact { records, .. } = store.verify_audit().unwrap() else {
        panic!("{:?}", store.verify_audit());
    };
    assert_eq!(records, 2);
    // The unfinished ticket is never removed, however old.
    let open = store.tickets(&Scope::Operator).unwrap();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert!(!open[0].state.is_terminal());
}
