//! Devices as the engine sees them: who they are and where they sit (from the inventory), what
//! the engine remembers of each, and the windows of planned work that cover them.

use super::fault::Fault;
use super::units::Ms;
use serde::{Deserialize, Serialize};

/// A device as any reader in scope may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub id: String,
    pub tenant: String,
    pub project: String,
    pub site: String,
    pub kind: String,
    /// The device this one reaches the network through (a site gateway), if any.
    pub uplink: Option<String>,
}

/// How late a report may seem before the hub takes it that the device's clock was set back.
pub const CLOCK_STEP: Ms = 3_600_000;

/// What the engine remembers of one device; persisted with every change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceMemory {
    /// When the last report arrived (hub clock): the device itself was alive then.
    pub last_report_at: Option<Ms>,
    /// When the last report was sent, on the hub's clock as far as it can tell (see
    /// [`DeviceMemory::sent`]): the uplinks it crossed were up then, not when a slow link
    /// delivered it. Not persisted: relearnt from the next report.
    #[serde(skip)]
    pub last_sent_at: Option<Ms>,
    /// The boot the device's clock was learnt in, and hub clock minus device clock plus the
    /// quickest transit seen: see [`DeviceMemory::sent`].
    #[serde(skip)]
    pub clock_offset: Option<(u64, Ms)>,
    /// The device's declared interval between reports.
    pub checkin: Ms,
    /// Silent once `now` is past this (declared check-in + grace).
    pub deadline: Option<Ms>,
    /// After a goodbye: planned downtime until then (`Ms::MAX` when open-ended).
    pub planned_until: Option<Ms>,
    pub faults: Vec<Fault>,
    /// Trend samples per (rule, instance).
    pub series: Vec<Series>,
}

impl DeviceMemory {
    /// Records a report of boot `boot` that arrived at `now`, sent at `sent_at_ms` by the
    /// device's clock (0 when it has none); returns when it was sent on the hub's clock, never
    /// after `now`.
    ///
    /// The offset between the clocks follows a lower value at once and a higher one by an
    /// eighth of the difference per report: one report a slow link held back barely moves it,
    /// and a clock that drifts is followed. It is learnt afresh in a new boot (the clock may
    /// have been set since), and when a report seems more than [`CLOCK_STEP`] late: the device's
    /// clock was set back (an outbox resent after so long came over a new connection, which
    /// proves the path now anyway).
    pub(crate) fn sent(&mut self, now: Ms, boot: u64, sent_at_ms: i64) -> Ms {
        let sent = if sent_at_ms <= 0 {
            now
        } else {
            let seen = now - sent_at_ms;
            let offset = match self.clock_offset {
                Some((b, o)) if b == boot && seen > o && seen - o <= CLOCK_STEP => {
                    o + (seen - o) / 8
                }
                _ => seen,
            };
            self.clock_offset = Some((boot, offset));
            (sent_at_ms + offset).min(now)
        };
        self.last_sent_at = Some(sent);
        sent
    }

    /// When the last report was sent (its arrival when the hub has not learnt the device's
    /// clock since it started).
    pub fn heard_sent(&self) -> Option<Ms> {
        self.last_sent_at.or(self.last_report_at)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Series {
    pub rule: String,
    pub instance: String,
    pub points: Vec<(Ms, f64)>,
    /// The position in this engine's trend rules of the first rule named `rule`, once known:
    /// finds the series without reading the name (a cache miss per report on a large fleet).
    /// Never persisted, and forgotten by `Engine::restore`: the rules may differ by then.
    #[serde(skip, default = "Series::rule_unknown")]
    pub(crate) rule_index: u32,
}

impl Series {
    pub(crate) const RULE_UNKNOWN: u32 = u32::MAX;

    fn rule_unknown() -> u32 {
        Series::RULE_UNKNOWN
    }
}

/// What is remembered, not how it is found: `rule_index` is left out.
impl PartialEq for Series {
    fn eq(&self, other: &Series) -> bool {
        self.rule == other.rule && self.instance == other.instance && self.points == other.points
    }
}

/// A window of planned work on a device, a site or a project: nothing opens during it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// A device, site or project id.
    pub scope: String,
    pub from: Ms,
    pub until: Ms,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Ms = 3_600_000;

    /// A device whose clock runs an hour behind the hub's, reporting every 30 s with a 20 ms
    /// transit: `(hub send time, delay in the link)` → the hub's estimate of the send time.
    fn estimates(reports: &[(Ms, Ms)], boot_at: impl Fn(Ms) -> u64) -> Vec<Ms> {
        let mut mem = DeviceMemory::default();
        reports
            .iter()
            .map(|&(at, delay)| mem.sent(at + 20 + delay, boot_at(at), at - HOUR))
            .collect()
    }

    #[test]
    fn a_report_held_back_by_the_link_is_dated_when_it_was_sent() {
        let t: Vec<(Ms, Ms)> = (0..10)
            .map(|i| (1_790_000_000_000 + i * 30_000, 0))
            .collect();
        let mut late = t.clone();
        late[5].1 = 12_000;
        let got = estimates(&late, |_| 1);
        // Every estimate is the send time plus the quickest transit, the late one within 1.5 s.
        for (i, (&(at, _), est)) in late.iter().zip(&got).enumerate() {
            let slack = if i >= 5 { 1_500 } else { 0 };
            assert!(
                (at + 20..=at + 20 + slack).contains(est),
                "report {i}: sent {at}, estimated {est}"
            );
        }
    }

    #[test]
    fn no_clock_means_arrival_and_a_clock_set_back_or_a_new_boot_is_learnt_afresh() {
        let mut mem = DeviceMemory::default();
        assert_eq!(mem.sent(5_000, 1, 0), 5_000);
        assert_eq!(mem.heard_sent(), Some(5_000));
        // Learnt: sent at 10 s (device clock 0 s), heard at 10.02 s.
        assert_eq!(mem.sent(10_020, 1, 1), 10_020);
        assert_eq!(mem.sent(40_020, 1, 30_001), 40_020);
        // The clock is set back two hours: the next report is taken as sent on arrival.
        assert_eq!(mem.sent(70_020, 1, 60_001 - 2 * HOUR), 70_020);
        assert_eq!(mem.sent(100_020, 1, 90_001 - 2 * HOUR), 100_020);
        // A new boot with a clock set back ten minutes: learnt afresh too.
        assert_eq!(mem.sent(130_020, 2, 120_001 - 600_000), 130_020);
        // Never later than the arrival, whatever the device claims.
        assert_eq!(mem.sent(160_020, 2, 160_020 + HOUR), 160_020);
    }
}
