//! When an engineer is on duty: weekly windows in UTC, parsed from the inventory's words.

use super::units::Ms;

/// A weekly on-duty window in UTC: `weekdays` bit 0 = Monday … bit 6 = Sunday; minutes of the
/// day; an end before the start runs past midnight into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shift {
    pub weekdays: u8,
    pub start_min: u16,
    pub end_min: u16,
}

impl Shift {
    pub const ALWAYS: Shift = Shift {
        weekdays: 0x7f,
        start_min: 0,
        end_min: 24 * 60,
    };

    /// Parses `"mon-fri 08:00-18:00"`, `"sat,sun 09:00-13:00"`, `"daily 22:00-06:00"` (an end
    /// before the start runs past midnight) or `"always"`.
    pub fn parse(text: &str) -> Result<Shift, String> {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let usage = "a shift is \"mon-fri 08:00-18:00\", \"sat,sun 09:00-13:00\", \"daily 22:00-06:00\" or \"always\"";
        let text = text.trim().to_ascii_lowercase();
        if text == "always" {
            return Ok(Shift::ALWAYS);
        }
        let (days, hours) = text.split_once(' ').ok_or(usage)?;
        let day = |d: &str| {
            DAYS.iter()
                .position(|x| *x == d.trim())
                .ok_or_else(|| format!("unknown day {d:?}: use mon, tue, wed, thu, fri, sat, sun"))
        };
        let mut weekdays = 0u8;
        if days == "daily" {
            weekdays = 0x7f;
        } else {
            for part in days.split(',') {
                match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (day(a)?, day(b)?);
                        let mut d = a;
                        loop {
                            weekdays |= 1 << d;
                            if d == b {
                                break;
                            }
                            d = (d + 1) % 7;
                        }
                    }
                    None => weekdays |= 1 << day(part)?,
                }
            }
        }
        let minute = |t: &str| -> Result<u16, String> {
            let (h, m) = t.trim().split_once(':').ok_or(usage)?;
            match (h.parse::<u16>(), m.parse::<u16>()) {
                (Ok(h), Ok(m)) if (h < 24 && m < 60) || (h == 24 && m == 0) => Ok(h * 60 + m),
                _ => Err(format!("{t:?} is not a time of day (HH:MM)")),
            }
        };
        let (start, end) = hours.trim().split_once('-').ok_or(usage)?;
        let (start_min, end_min) = (minute(start)?, minute(end)?);
        if start_min == end_min {
            return Err("a shift must not start and end at the same time".into());
        }
        Ok(Shift {
            weekdays,
            start_min,
            end_min,
        })
    }

    pub fn covers(&self, now: Ms) -> bool {
        let minutes = now.div_euclid(60_000);
        let minute_of_day = (minutes.rem_euclid(24 * 60)) as u16;
        // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
        let day = ((minutes.div_euclid(24 * 60) + 3).rem_euclid(7)) as u8;
        let on = |d: u8| self.weekdays & (1 << d) != 0;
        if self.start_min <= self.end_min {
            on(day) && (self.start_min..self.end_min).contains(&minute_of_day)
        } else {
            // Overnight: the evening part belongs to today's shift, the morning part to yesterday's.
            (on(day) && minute_of_day >= self.start_min)
                || (on((day + 6) % 7) && minute_of_day < self.end_min)
        }
    }
}
