//! What the engine hands the store comes back after a restart: a maintenance window added by
//! input (not from the config) is committed with the engine's changes and reloaded.

use heartline_engine::{DeviceInfo, Engine, EngineConfig, HOUR, Input, Maintenance, Ms};
use heartline_hub::store::Store;

/// Monday 2026-11-23 10:00 UTC.
const MON_10: Ms = 1_795_428_000_000;

#[test]
fn a_maintenance_window_added_by_input_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), 10).unwrap();
    let device = DeviceInfo {
        id: "d0".into(),
        tenant: "t".into(),
        project: "p".into(),
        site: "s".into(),
        kind: "camera".into(),
        uplink: None,
    };
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
    assert_eq!(store.engine_state().unwrap().maintenance, vec![window]);
}
