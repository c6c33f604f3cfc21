//! Why the microcontroller last reset, as the device event the hub turns into a ticket (watchdog,
//! brown-out, lock-up) or just records (power-on, reset pin, software reset).

use crate::pb::EventKind;

/// A reset cause, as the board's reset-cause register tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetCause {
    PowerOn,
    Brownout,
    Watchdog,
    /// The reset pin.
    External,
    /// The firmware asked for it (an update, say).
    Software,
    /// The core locked up (a fault inside a fault handler).
    Lockup,
    Unknown,
}

impl ResetCause {
    /// The event kind and a short detail for the report.
    pub fn event(self) -> (EventKind, &'static str) {
        match self {
            ResetCause::PowerOn => (EventKind::Reboot, "power-on reset"),
            ResetCause::Brownout => (EventKind::Brownout, "brown-out reset"),
            ResetCause::Watchdog => (EventKind::WatchdogReset, "watchdog reset"),
            ResetCause::External => (EventKind::Reboot, "reset pin"),
            ResetCause::Software => (EventKind::Reboot, "software reset"),
            ResetCause::Lockup => (EventKind::Crash, "core lock-up"),
            ResetCause::Unknown => (EventKind::Reboot, "reset cause unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_events_the_hub_tickets() {
        assert_eq!(ResetCause::Watchdog.event().0, EventKind::WatchdogReset);
        assert_eq!(ResetCause::Brownout.event().0, EventKind::Brownout);
        assert_eq!(ResetCause::Lockup.event().0, EventKind::Crash);
        for planned in [
            ResetCause::PowerOn,
            ResetCause::External,
            ResetCause::Software,
        ] {
            assert_eq!(planned.event().0, EventKind::Reboot);
        }
    }
}
