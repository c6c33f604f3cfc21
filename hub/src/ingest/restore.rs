//! The engine rebuilt from the store, at start-up and after an inventory change: the store's
//! records converted to the engine's settings (SLA per project, the dispatch roster), with what
//! the engine remembered (device memories, tickets, maintenance windows added by input).

use crate::store::{Scope, Store, StoreError};
use heartline_engine::dispatch::{Engineer, Manager, Roster, SiteArea};
use heartline_engine::{Engine, EngineConfig};

/// The engine as the store left it, with the inventory's devices, SLAs and roster; every device
/// gets a fresh grace period from `now`.
pub(super) fn build_engine(
    store: &Store,
    cfg: &EngineConfig,
    now: i64,
) -> Result<Engine, StoreError> {
    let devices = store.devices(&Scope::Operator)?;
    let mut cfg = cfg.clone();
    cfg.sla = store
        .projects(&Scope::Operator)?
        .into_iter()
        .map(|p| (p.id, p.sla))
        .collect();
    cfg.roster = roster(store)?;
    let saved = store.engine_state(now - cfg.reopen_window)?;
    cfg.maintenance.extend(saved.maintenance);
    tracing::info!(
        devices = devices.len(),
        grace_ms = cfg.heartbeat_grace,
        "engine restored; every device gets a fresh grace period from now before a missed check-in counts"
    );
    Ok(Engine::restore(
        cfg,
        devices,
        saved.memory,
        saved.tickets,
        saved.next_ticket,
        now,
    ))
}

/// Engineers, managers and site areas from the inventory, for the dispatch policy.
fn roster(store: &Store) -> Result<Roster, StoreError> {
    let engineers = store.engineers(&Scope::Operator)?;
    Ok(Roster {
        grid_manager_of: engineers
            .iter()
            .filter(|e| !e.grid_manager.is_empty())
            .map(|e| (e.id.clone(), e.grid_manager.clone()))
            .collect(),
        engineers: engineers
            .into_iter()
            .map(|e| Engineer {
                id: e.id,
                regions: e.regions,
                grid_cells: e.grid_cells,
                skills: e.skills,
                shifts: e.shifts,
                location: e.location,
            })
            .collect(),
        managers: store
            .managers(&Scope::Operator)?
            .into_iter()
            .map(|m| Manager {
                id: m.id,
                level: m.level,
                reports_to: m.reports_to,
                regions: m.regions,
                grid_cells: m.grid_cells,
            })
            .collect(),
        sites: store
            .sites(&Scope::Operator)?
            .into_iter()
            .map(|s| {
                let area = SiteArea {
                    region: s.region,
                    grid_cell: s.grid_cell,
                    location: s.location,
                };
                (s.id, area)
            })
            .collect(),
    })
}
