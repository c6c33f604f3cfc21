//! The status vocabulary shared by devices and the hub.

/// A check's result, numbered as the Nagios plugin exit codes so existing plugins work unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CheckState {
    Ok = 0,
    Warn = 1,
    Crit = 2,
    Unknown = 3,
}

impl CheckState {
    /// Maps a plugin exit code (or the wire enum value); anything out of range is `Unknown`, as
    /// the plugin convention says.
    pub const fn from_code(code: i32) -> CheckState {
        match code {
            0 => CheckState::Ok,
            1 => CheckState::Warn,
            2 => CheckState::Crit,
            _ => CheckState::Unknown,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            CheckState::Ok => "OK",
            CheckState::Warn => "WARN",
            CheckState::Crit => "CRIT",
            CheckState::Unknown => "UNKNOWN",
        }
    }

    /// WARN and CRIT are failures; UNKNOWN means the check itself could not run.
    pub const fn is_failing(self) -> bool {
        matches!(self, CheckState::Warn | CheckState::Crit)
    }
}

/// How bad a fault is; decides SLA clocks and escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Severity {
    Info = 1,
    Minor = 2,
    Major = 3,
    Critical = 4,
}

/// A device's health as the project view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum DeviceStatus {
    /// Never heard from.
    #[default]
    Unknown,
    Ok,
    Warning,
    Down,
    /// Down because its uplink is down; covered by the uplink's ticket.
    Affected,
    Maintenance,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_exit_codes() {
        let cases = [
            (0, CheckState::Ok),
            (1, CheckState::Warn),
            (2, CheckState::Crit),
            (3, CheckState::Unknown),
            (4, CheckState::Unknown),
            (-1, CheckState::Unknown),
        ];
        for (code, state) in cases {
            assert_eq!(CheckState::from_code(code), state, "exit code {code}");
        }
        assert!(CheckState::Crit.is_failing() && !CheckState::Unknown.is_failing());
    }
}
