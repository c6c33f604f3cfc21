//! The operator's KPI board: per day, week or month of each ticket's tenant's local time (a
//! ticket opened at 23:30 in Shanghai counts for that Shanghai day), from the tickets opened in it —
//! MTTD, MTTA, MTTR, SLA compliance, share detected before any customer report, repeat-fault
//! rate and the customers' rating. Also as CSV.

use crate::localtime::Zone;
use heartline_engine::{FaultKind, Ms, Ticket, TicketState};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }
}

/// The bucket label of a time in `zone`: `2026-11-24`, `2026-11-23` (the Monday of its week),
/// `2026-11`.
pub fn bucket(at: Ms, period: Period, zone: &Zone) -> String {
    match period {
        Period::Day => zone.date(at).to_string(),
        Period::Week => zone.week_start(at).to_string(),
        Period::Month => {
            let d = zone.date(at);
            format!("{:04}-{:02}", d.year(), d.month())
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Kpi {
    pub period: String,
    pub tickets: u32,
    /// Mean time to detect, seconds (fault first seen → ticket).
    pub mttd_s: Option<f64>,
    /// Mean time to accept, seconds.
    pub mtta_s: Option<f64>,
    /// Mean time to repair (ticket → closed after verification), seconds.
    pub mttr_s: Option<f64>,
    /// Finished tickets closed by their repair-by, share 0–1.
    pub sla_compliance: Option<f64>,
    /// Tickets the hub opened before any customer report, share 0–1.
    pub detected_first: Option<f64>,
    /// Tickets that came back after being finished, share 0–1.
    pub repeat_rate: Option<f64>,
    pub rating: Option<f64>,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

fn share(flags: impl Iterator<Item = bool>) -> Option<f64> {
    mean(flags.map(|b| if b { 1.0 } else { 0.0 }))
}

/// The board of `tickets`; `zone_of` gives a tenant's time zone.
pub fn board(tickets: &[Ticket], period: Period, zone_of: &dyn Fn(&str) -> Zone) -> Vec<Kpi> {
    let mut groups: BTreeMap<String, Vec<&Ticket>> = BTreeMap::new();
    for t in tickets {
        groups
            .entry(bucket(t.opened_at, period, &zone_of(&t.tenant)))
            .or_default()
            .push(t);
    }
    groups
        .into_iter()
        .map(|(label, ts)| {
            let finished = || {
                ts.iter()
                    .filter(|t| t.state == TicketState::Closed && t.closed_at.is_some())
            };
            Kpi {
                period: label,
                tickets: ts.len() as u32,
                mttd_s: mean(
                    ts.iter()
                        .filter_map(|t| t.fault_since.map(|f| (t.opened_at - f) as f64 / 1e3)),
                ),
                mtta_s: mean(
                    ts.iter()
                        .filter_map(|t| t.accepted_at.map(|a| (a - t.opened_at) as f64 / 1e3)),
                ),
                mttr_s: mean(
                    finished().map(|t| (t.closed_at.unwrap_or(0) - t.opened_at) as f64 / 1e3),
                ),
                sla_compliance: share(finished().map(|t| t.closed_at.unwrap_or(0) <= t.repair_by)),
                detected_first: share(ts.iter().map(|t| {
                    t.root != FaultKind::Reported
                        && t.customer_reported_at.is_none_or(|c| t.opened_at < c)
                })),
                repeat_rate: share(ts.iter().map(|t| t.reopened > 0)),
                rating: mean(
                    ts.iter()
                        .filter_map(|t| t.rating.as_ref().map(|r| f64::from(r.stars))),
                ),
            }
        })
        .collect()
}

pub fn csv(rows: &[Kpi]) -> String {
    let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
    let mut out = String::from(
        "period,tickets,mttd_s,mtta_s,mttr_s,sla_compliance,detected_first,repeat_rate,rating\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            r.period,
            r.tickets,
            f(r.mttd_s),
            f(r.mtta_s),
            f(r.mttr_s),
            f(r.sla_compliance),
            f(r.detected_first),
            f(r.repeat_rate),
            f(r.rating)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use heartline_engine::SlaTimes;

    fn ticket(id: u64, tenant: &str, opened_at: Ms) -> Ticket {
        Ticket {
            opened_at,
            updated_at: opened_at,
            sla: SlaTimes {
                respond: 1,
                repair: 1,
            },
            respond_by: opened_at,
            repair_by: opened_at,
            ..crate::sample::ticket(id, tenant)
        }
    }

    /// Milliseconds of a Shanghai wall-clock time (UTC+8, no daylight saving).
    fn shanghai(date: &str, hh: i64, mm: i64) -> Ms {
        let d: jiff::civil::Date = date.parse().unwrap();
        Zone::default().start_of(d) + (hh * 60 + mm) * 60_000
    }

    fn counts(tickets: &[Ticket], period: Period) -> Vec<(String, u32)> {
        let zone_of = |tenant: &str| {
            Zone::parse(if tenant == "berlin" {
                "Europe/Berlin"
            } else {
                "Asia/Shanghai"
            })
            .unwrap()
        };
        board(tickets, period, &zone_of)
            .into_iter()
            .map(|k| (k.period, k.tickets))
            .collect()
    }

    #[test]
    fn a_ticket_opened_at_23_30_in_shanghai_counts_for_that_shanghai_day() {
        // Thursday 3 December, 23:30 and 00:30 the next day: in UTC both are on the 3rd
        // (15:30Z and 16:30Z), so a UTC board would put both on one day.
        let late = shanghai("2026-12-03", 23, 30);
        let after_midnight = shanghai("2026-12-04", 0, 30);
        assert_eq!(late, 1_796_311_800_000, "2026-12-03T15:30:00Z");
        let ts = [ticket(1, "acme", late), ticket(2, "acme", after_midnight)];
        assert_eq!(
            counts(&ts, Period::Day),
            vec![("2026-12-03".into(), 1), ("2026-12-04".into(), 1)]
        );
    }

    #[test]
    fn weeks_start_on_local_monday_and_months_on_the_local_first() {
        let sunday_late = shanghai("2026-11-29", 23, 30);
        let monday_early = shanghai("2026-11-30", 0, 30);
        let ts = [
            ticket(1, "acme", sunday_late),
            ticket(2, "acme", monday_early),
        ];
        assert_eq!(
            counts(&ts, Period::Week),
            vec![("2026-11-23".into(), 1), ("2026-11-30".into(), 1)]
        );
        let november_last = shanghai("2026-11-30", 23, 30);
        let december_first = shanghai("2026-12-01", 0, 30);
        let ts = [
            ticket(1, "acme", november_last),
            ticket(2, "acme", december_first),
        ];
        assert_eq!(
            counts(&ts, Period::Month),
            vec![("2026-11".into(), 1), ("2026-12".into(), 1)]
        );
    }

    #[test]
    fn each_ticket_counts_in_its_own_tenants_zone() {
        // 06:30 on 4 December in Shanghai is 23:30 on the 3rd in Berlin (UTC+1).
        let at = shanghai("2026-12-04", 6, 30);
        let ts = [ticket(1, "acme", at), ticket(2, "berlin", at)];
        assert_eq!(
            counts(&ts, Period::Day),
            vec![("2026-12-03".into(), 1), ("2026-12-04".into(), 1)]
        );
    }
}
