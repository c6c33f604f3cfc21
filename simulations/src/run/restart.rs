//! A hub restart: the engine is rebuilt with `Engine::restore` from what the hub had committed,
//! and what the hub should notice moves as its fresh grace does.

use super::World;
use heartline_engine::{Engine, Ms, RECONNECT};

impl World<'_> {
    /// The hub is back: its engine is rebuilt from what it had committed, as `Hub::start` does.
    pub(super) fn hub_up(&mut self, i: usize) {
        let r = self.restarts[i];
        let Some(p) = self.persisted.take() else {
            return;
        };
        self.engine = Engine::restore(
            self.cfg.clone(),
            self.fleet.infos.clone(),
            p.memory,
            p.tickets.into_values().collect(),
            p.next_ticket,
            self.now,
        );
        self.engine.skip_device_changes();
        self.hub_up = true;
        self.stats.restarts += 1;
        // Devices that reported while the hub was down re-send on reconnecting (the agent's
        // outbox); those that died or were cut off meanwhile cannot.
        for d in 0..self.outbox.len() {
            if std::mem::take(&mut self.outbox[d]) && self.flags[d] == 0 {
                self.stats.resent += 1;
                self.send(self.now, d as u32);
            }
        }
        // Nothing opens while the hub is down; and silence it did not witness proves nothing:
        // what was due while it was down, or is due before devices can have reconnected, gets a
        // fresh grace from now (`Engine::restore`); later deadlines stand.
        for pi in 0..self.problems.len() {
            let pr = &self.problems[pi];
            let Some(due) = pr.due.filter(|&due| pr.end.is_none() && due >= r.at) else {
                continue;
            };
            let d = pr.device;
            let fresh = if pr.by_silence {
                if due > self.now + self.reconnect_window(d) {
                    continue;
                }
                self.now + self.fleet.every(d) + self.grace(d)
            } else {
                self.now
            };
            self.problems[pi].due = Some(due.max(fresh));
        }
        // An uplink's first deadline behind it moves the same way, device by device.
        for pi in 0..self.problems.len() {
            let pr = &self.problems[pi];
            if pr.first_due.is_none() || pr.end.is_some() {
                continue;
            }
            let first = pr.devices.iter().filter_map(|&c| self.silence_due(c)).min();
            // A verdict that was pending when the hub stopped starts again with a new probe.
            let pending = |f: Ms| f + self.cfg.probe_timeout >= r.at && f < self.now;
            self.problems[pi].first_due = first.map(|f| if pending(f) { self.now } else { f });
        }
        self.collect();
    }

    /// After a restart, how far ahead a deadline gets a fresh grace (as `Engine::restore`).
    pub(super) fn reconnect_window(&self, d: u32) -> Ms {
        (2 * self.grace(d)).max(RECONNECT)
    }
}
