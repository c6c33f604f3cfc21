//! Local time: each tenant's IANA time zone (inventory `time_zone`, `Asia/Shanghai` unless said
//! otherwise), and what pages, CSV exports and the KPI periods need of it. The zone database is
//! built into the binary (jiff's bundled tzdb), so a hub on a machine without `/usr/share/zoneinfo`
//! reads the same.

use heartline_engine::Ms;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The zone of a tenant that names none: the users are in China.
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";

/// RFC 3339 in UTC: `2026-12-04T04:30:28Z`.
pub fn utc_rfc3339(ms: Ms) -> String {
    Timestamp::from_millisecond(ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A named time zone.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Default for Zone {
    fn default() -> Self {
        Zone::parse(DEFAULT_ZONE).expect("the bundled tzdb has Asia/Shanghai")
    }
}

impl Zone {
    /// An IANA name (`Asia/Shanghai`, `Europe/Berlin`, `UTC`); `Err` says why not.
    pub fn parse(name: &str) -> Result<Zone, String> {
        let tz = jiff::tz::db()
            .get(name)
            .map_err(|e| format!("unknown time zone {name:?}: {e}"))?;
        Ok(Zone {
            name: name.to_string(),
            tz,
        })
    }

    /// A zone by name, or the default one for a name that is empty or unknown (logged).
    pub fn or_default(name: &str) -> Zone {
        if name.is_empty() {
            return Zone::default();
        }
        Zone::parse(name).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "using {DEFAULT_ZONE}");
            Zone::default()
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn at(&self, ms: Ms) -> jiff::ZonedDateTime {
        Timestamp::from_millisecond(ms)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned_datetime(self.tz.clone())
    }

    /// `2026-12-04 12:30:28`, local, to the second.
    pub fn format(&self, ms: Ms) -> String {
        self.at(ms).strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// RFC 3339 in this zone: `2026-12-04T12:30:28+08:00`.
    pub fn rfc3339(&self, ms: Ms) -> String {
        self.at(ms).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    /// The local calendar date of an instant.
    pub fn date(&self, ms: Ms) -> Date {
        self.at(ms).date()
    }

    /// The local date's Monday (weeks start on Monday, as in China).
    pub fn week_start(&self, ms: Ms) -> Date {
        let d = self.date(ms);
        let back = d.weekday().since(Weekday::Monday);
        d.checked_sub(i64::from(back).days()).unwrap_or(d)
    }

    /// The instant local midnight of `date` begins (the first instant of the day where a
    /// zone skips midnight).
    pub fn start_of(&self, date: Date) -> Ms {
        date.to_zoned_datetime(self.tz.clone())
            .map_or(0, |z| z.timestamp().as_millisecond())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_is_eight_hours_ahead_and_days_turn_at_local_midnight() {
        let z = Zone::default();
        // 2026-12-03T15:30:00Z is 23:30 on the 3rd in Shanghai; 16:00Z is midnight of the 4th.
        let late = 1_796_311_800_000;
        assert_eq!(z.format(late), "2026-12-03 23:30:00");
        assert_eq!(z.date(late).to_string(), "2026-12-03");
        assert_eq!(z.date(late + 30 * 60_000).to_string(), "2026-12-04");
        assert_eq!(
            z.start_of(z.date(late)),
            late - 23 * 3_600_000 - 30 * 60_000
        );
        assert_eq!(z.week_start(late).to_string(), "2026-11-30");
    }

    #[test]
    fn unknown_zones_are_refused_and_default_to_shanghai() {
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert_eq!(Zone::or_default("").name(), "Asia/Shanghai");
        assert_eq!(Zone::parse("UTC").unwrap().format(0), "1970-01-01 00:00:00");
    }
}
