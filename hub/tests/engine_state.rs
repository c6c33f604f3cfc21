//! What the engine hands the store comes back after a restart: a maintenance window added by
//! input (not from the config) is committed with the engine's changes and reloaded; tickets
//! finished before the reopen window stay in the store and out of the restored engine.

mod common;

use common::*;
use heartline_engine::{Engine, EngineConfig, HOUR, Input, Maintenance};
use heartline_hub::store::{Scope, Store};
use heartline_proto::CheckState;

#[test]
fn a_maintenance_window_added_by_input_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), 10).unwrap();
    let device = camera();
    let mut engine = Engine::new(EngineConfig::default(), vec![device]);
    let window = Maintenance {
        scope: "s".into(),
        from: MON_10,
        until: MON_10 + 2 * HOUR,
        reason: "core switch upgrade".into(),
    };
    engine
        .handle(MON_10, Input::Maintenance(window.clone()))
        .unwrap();
    let changes = engine.take_changes();
    assert_eq!(changes.maintenance, vec![window.clone()]);
    store.commit(&[], &[], &changes).unwrap();
    drop(store);
    let store = Store::open(&dir.path().join("s.redb"), 10).unwrap();
    assert_eq!(store.engine_state(0).unwrap().maintenance, vec![window]);
}

#[test]
fn start_up_loads_the_tickets_the_engine_still_needs_and_leaves_settled_ones_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), 10).unwrap();
    let device = camera();
    let cfg = EngineConfig::default();
    let mut engine = Engine::new(cfg.clone(), vec![device]);
    // A ticket finished two days ago, one finished two hours ago, and an unfinished one.
    blip(&mut engine, MON_10 - 48 * HOUR);
    blip(&mut engine, MON_10 - 2 * HOUR);
    let crit = check("link", CheckState::Crit);
    engine
        .handle(
            MON_10,
            Input::Report {
                device: "d0",
                report: &crit,
            },
        )
        .unwrap();
    let changes = engine.take_changes();
    let states: Vec<_> = changes.tickets.iter().map(|t| (t.id, t.state)).collect();
    assert_eq!(
        states.iter().map(|s| s.1.is_terminal()).collect::<Vec<_>>(),
        [true, true, false],
        "{states:?}"
    );
    store.commit(&[], &[], &changes).unwrap();
    let loaded: Vec<_> = store
        .engine_state(MON_10 - cfg.reopen_window)
        .unwrap()
        .tickets
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(loaded, vec![states[1].0, states[2].0], "all: {states:?}");
    assert_eq!(store.engine_state(0).unwrap().tickets.len(), 3);
    // The settled one stays in the store, for the pages, the API and a late rating.
    assert!(
        store
            .ticket(&Scope::Operator, states[0].0)
            .unwrap()
            .is_some()
    );
}
