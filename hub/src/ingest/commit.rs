//! The commit step of a batch and what follows it: one store transaction for the batch and what
//! the engine made of it, then the answers to ticket actions, live updates, the notifier's wake-up
//! and the acks; on failure nothing is acknowledged. Probes are sent whatever becomes of it.

use super::{Batch, Ingest, holes, now_ms};
use crate::live::{CommandError, DeviceView, Reply};
use crate::store::{DeviceStateRecord, HistoryEntry};
use heartline_engine::{Output, TicketError};
use heartline_proto::envelope::seal;
use heartline_proto::wire;
use heartline_proto::{Channel, DeviceKey, Topic};
use std::sync::Arc;
use std::time::Instant;

impl Ingest {
    /// Commits the batch and what the engine made of it, then acknowledges. On failure nothing is
    /// acknowledged and the in-memory state is rebuilt from the store.
    pub(super) fn flush(&mut self, batch: Batch) {
        let changes = self.engine.take_changes();
        // Probes are questions, not state: they go out whatever becomes of the commit.
        for device in &changes.probes {
            self.probe(device);
        }
        if batch.messages == 0
            && batch.replies.is_empty()
            && changes.devices.is_empty()
            && changes.tickets.is_empty()
            && changes.maintenance.is_empty()
        {
            self.report_outputs(&changes.outputs);
            return;
        }
        let started = Instant::now();
        let states: Vec<(&str, &DeviceStateRecord)> =
            batch.states.iter().map(|(d, s)| (d.as_str(), s)).collect();
        let history: Vec<HistoryEntry<'_>> = batch
            .reports
            .iter()
            .map(|(device, index, report)| HistoryEntry {
                device,
                index: *index,
                report,
            })
            .collect();
        if let Err(e) = self.store.commit(&states, &history, &changes) {
            self.metrics.store_errors.inc();
            tracing::error!(
                error = %e,
                messages = batch.messages,
                "store commit failed; nothing acknowledged, devices will send again"
            );
            drop((states, history));
            for (_, reply) in batch.replies {
                let _ = reply.send(Err(CommandError::Store(e.to_string())));
            }
            if e.needs_reopen() {
                tracing::error!(
                    error = %e,
                    "the store file could not be written (is its disk full?); the store refuses \
                     every write until it is reopened, so ingest stops and the hub exits: free \
                     space and start it again; devices keep what was not acknowledged and send it again"
                );
                self.failed = true;
                if let Some(deaths) = &self.store_failed {
                    deaths.report("store", e.to_string());
                }
                return;
            }
            self.reload();
            return;
        }
        self.report_outputs(&changes.outputs);
        let now = now_ms();
        for t in &changes.tickets {
            // Nobody watching is fine.
            let _ = self.live.tickets.send(Arc::new(t.clone()));
            let id = t.id.to_string();
            self.live
                .board
                .publish(now, &t.tenant, &t.project, "ticket", &id);
        }

        for (id, reply) in batch.replies {
            let answer = match id {
                None => Ok(Reply::Done),
                Some(id) => match self.engine.ticket(id) {
                    Some(t) => Ok(Reply::Ticket(Box::new(t.clone()))),
                    None => Err(CommandError::Refused(TicketError::NoSuchTicket(id))),
                },
            };
            let _ = reply.send(answer);
        }
        let noticed = changes
            .outputs
            .iter()
            .any(|o| matches!(o, Output::Notify(_)));
        if let (true, Some(wake)) = (noticed, &self.notices) {
            let _ = wake.try_send(());
        }
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.batches.inc();
        self.metrics
            .reports_committed
            .inc_by(batch.reports.len() as u64);
        self.metrics.states_committed.inc_by(batch.state_changes);
        let touched: Vec<String> = batch.states.keys().cloned().collect();
        self.states.extend(batch.states);
        for (device, holes) in batch.holes {
            if holes.is_empty() {
                self.holes.remove(&device);
            } else {
                self.holes.insert(device, holes);
            }
        }
        for device in changes.devices.iter().map(|(d, _)| d).chain(&touched) {
            self.show_device(device, now);
        }
        for ((device, boot_id), sequence) in batch.acks {
            self.ack(&device, boot_id, sequence);
        }
    }

    /// Updates the device's status on the board; a change is published to live pages.
    fn show_device(&self, device: &str, now: i64) {
        let last_report_ms = self.states.get(device).map_or(0, |s| s.last_report_at_ms);
        let view = DeviceView {
            status: self.engine.status(device, now),
            last_report_ms,
        };
        // A new report alone is not a change worth a page reload; a status change is.
        let before = self.live.board.device(device).map(|v| v.status);
        self.live.board.set_device(device, view);
        if before != Some(view.status) {
            if let Some(d) = self.directory.get(device) {
                self.live
                    .board
                    .publish(now, &d.info.tenant, &d.info.project, "device", device);
            }
        }
    }

    /// Logs and counts what the engine decided, once it is committed.
    fn report_outputs(&self, outputs: &[Output]) {
        for o in outputs {
            match o {
                Output::TicketOpened(id) => {
                    self.metrics.tickets_opened.inc();
                    if let Some(t) = self.engine.ticket(*id) {
                        tracing::info!(ticket = id, device = %t.device, severity = ?t.severity, title = %t.title, "ticket opened");
                    }
                }
                Output::TicketChanged(id) => {
                    if let Some(t) = self.engine.ticket(*id) {
                        tracing::info!(ticket = id, state = t.state.as_str(), "ticket changed");
                    }
                }
                Output::Notify(n) => tracing::info!(
                    ticket = n.ticket,
                    to = %n.to,
                    kind = n.kind.as_str(),
                    what = ?n.what,
                    "notify"
                ),
                Output::Stalled { gap } => tracing::warn!(
                    gap_ms = gap,
                    "the hub was not processing for a while; every device gets a fresh grace period instead of a heartbeat ticket"
                ),
            }
        }
    }

    /// Asks a device (an uplink with a silent device behind it) for a report now: an ack of
    /// what is already committed, carrying the question.
    fn probe(&mut self, device: &str) {
        let (boot_id, committed) = self
            .states
            .get(device)
            .and_then(|s| s.boots.first())
            .map_or((0, 0), |b| (b.boot_id, b.committed));
        let sequence = self
            .holes
            .get(device)
            .map_or(committed, |h| holes::ack_floor(h, boot_id, committed));
        self.metrics.probes_sent.inc();
        tracing::debug!(device, "probing an uplink: a device behind it went silent");
        self.send_ack(device, boot_id, sequence, now_ms());
    }

    fn ack(&mut self, device: &str, boot_id: u64, sequence: u64) {
        self.send_ack(device, boot_id, sequence, 0);
    }

    fn send_ack(&mut self, device: &str, boot_id: u64, sequence: u64, report_now_at_ms: i64) {
        let Some(record) = self.directory.get(device) else {
            return;
        };
        let ack = wire::Ack {
            device_id: device.to_string(),
            boot_id,
            sequence,
            report_now_at_ms,
        };
        let payload = seal(&DeviceKey(record.secrets.key), &ack);
        let topic = Topic::new(&record.info.tenant, device, Channel::Ack).to_string();
        if let Err(e) = self.link_tx.send(topic, payload) {
            // The device sends the report again and gets its ack then.
            tracing::warn!(device, error = %e, "cannot publish ack: the broker link is full or closed");
        }
    }
}
