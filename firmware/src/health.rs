//! Sensor readings turned into metrics and Nagios-style checks: over-temperature is CRIT, a
//! sagging supply WARN then CRIT, a sensor that does not answer UNKNOWN.

use crate::drivers::Supply;
use crate::pb::CheckStatus;
use crate::report::Draft;

/// Alarm levels.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub temp_warn_mc: i32,
    pub temp_crit_mc: i32,
    pub supply_warn_mv: u32,
    pub supply_crit_mv: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            temp_warn_mc: 60_000,
            temp_crit_mc: 70_000,
            supply_warn_mv: 3_500,
            supply_crit_mv: 3_350,
        }
    }
}

/// A check message, built without `core::fmt`.
type Message = heapless::String<40>;

/// Appends `milli / 1000` with one decimal ("71.5", "-0.3").
fn push_milli(s: &mut Message, milli: i64) {
    if milli < 0 {
        let _ = s.push('-');
    }
    let tenths = milli.unsigned_abs() / 100;
    push_uint(s, tenths / 10);
    let _ = s.push('.');
    let _ = s.push((b'0' + (tenths % 10) as u8) as char);
}

fn push_uint(s: &mut Message, v: u64) {
    let _ = s.push_str(crate::text::decimal(v, &mut [0; 20]));
}

/// "{value} {unit}, limit {limit} {unit}" or "{value} {unit}".
fn message(value: i64, limit: Option<i64>, unit: &str) -> Message {
    let mut m = Message::new();
    push_milli(&mut m, value);
    let _ = m.push_str(unit);
    if let Some(limit) = limit {
        let _ = m.push_str(", limit ");
        push_milli(&mut m, limit);
        let _ = m.push_str(unit);
    }
    m
}

/// `temperature_c` and the `temperature` check; `None` when the sensor did not answer.
#[cfg_attr(feature = "footprint", inline(never))]
pub fn temperature(draft: &mut Draft, millicelsius: Option<i32>, limits: &Limits) {
    let Some(mc) = millicelsius else {
        draft.check("temperature", CheckStatus::Unknown, "sensor not responding");
        return;
    };
    draft.metric("temperature_c", f64::from(mc) / 1_000.0, "C", "board");
    let (status, limit) = if mc >= limits.temp_crit_mc {
        (CheckStatus::Crit, Some(limits.temp_crit_mc))
    } else if mc >= limits.temp_warn_mc {
        (CheckStatus::Warn, Some(limits.temp_warn_mc))
    } else {
        (CheckStatus::Ok, None)
    };
    let m = message(i64::from(mc), limit.map(i64::from), " C");
    draft.check("temperature", status, &m);
}

/// `supply_v`, `battery_pct` and the `supply` check; `None` when the ADC failed.
#[cfg_attr(feature = "footprint", inline(never))]
pub fn supply(draft: &mut Draft, reading: Option<Supply>, limits: &Limits) {
    let Some(s) = reading else {
        draft.check("supply", CheckStatus::Unknown, "supply reading failed");
        return;
    };
    draft.metric("supply_v", f64::from(s.millivolts) / 1_000.0, "V", "");
    draft.metric("battery_pct", f64::from(s.battery_pct), "%", "");
    let (status, limit) = if s.millivolts <= limits.supply_crit_mv {
        (CheckStatus::Crit, Some(limits.supply_crit_mv))
    } else if s.millivolts <= limits.supply_warn_mv {
        (CheckStatus::Warn, Some(limits.supply_warn_mv))
    } else {
        (CheckStatus::Ok, None)
    };
    let m = message(i64::from(s.millivolts), limit.map(i64::from), " V");
    draft.check("supply", status, &m);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(mc: Option<i32>) -> (CheckStatus, Message, Option<f64>) {
        let mut d = Draft::new("d", 1, 1, 0, 5);
        temperature(&mut d, mc, &Limits::default());
        let c = &d.report.checks[0];
        let mut m = Message::new();
        let _ = m.push_str(&c.message);
        (c.status, m, d.report.metrics.first().map(|m| m.value))
    }

    #[test]
    fn temperature_levels() {
        let cases = [
            (Some(25_125), CheckStatus::Ok, "25.1 C", Some(25.125)),
            (
                Some(60_000),
                CheckStatus::Warn,
                "60.0 C, limit 60.0 C",
                Some(60.0),
            ),
            (
                Some(71_500),
                CheckStatus::Crit,
                "71.5 C, limit 70.0 C",
                Some(71.5),
            ),
            (Some(-5_250), CheckStatus::Ok, "-5.2 C", Some(-5.25)),
            (None, CheckStatus::Unknown, "sensor not responding", None),
        ];
        for (mc, status, msg, value) in cases {
            let got = temp(mc);
            assert_eq!(
                (got.0, got.1.as_str(), got.2),
                (status, msg, value),
                "{mc:?}"
            );
        }
    }

    #[test]
    fn supply_levels() {
        let cases = [
            (4_100, CheckStatus::Ok, "4.1 V"),
            (3_500, CheckStatus::Warn, "3.5 V, limit 3.5 V"),
            (3_200, CheckStatus::Crit, "3.2 V, limit 3.3 V"),
        ];
        for (mv, status, msg) in cases {
            let mut d = Draft::new("d", 1, 1, 0, 5);
            let reading = Supply {
                millivolts: mv,
                battery_pct: 50,
            };
            supply(&mut d, Some(reading), &Limits::default());
            assert_eq!(d.report.metrics[0].value, f64::from(mv) / 1000.0);
            assert_eq!(d.report.metrics[1].value, 50.0);
            assert_eq!(
                (
                    d.report.checks[0].status,
                    d.report.checks[0].message.as_str()
                ),
                (status, msg)
            );
        }
        let mut d = Draft::new("d", 1, 1, 0, 5);
        supply(&mut d, None, &Limits::default());
        assert_eq!(d.report.checks[0].status, CheckStatus::Unknown);
        assert!(d.report.metrics.is_empty());
    }
}
