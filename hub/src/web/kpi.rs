//! The operator's KPI board: per day, week or month (UTC), from the tickets opened in it —
//! MTTD, MTTA, MTTR, SLA compliance, share detected before any customer report, repeat-fault
//! rate and the customers' rating. Also as CSV.

use heartline_engine::{FaultKind, Ms, Ticket, TicketState};
use serde::Serialize;
use std::collections::BTreeMap;

const DAY: Ms = 86_400_000;

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

/// Civil date (y, m, d) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The bucket label of a time: `2026-11-24`, `2026-11-23` (the Monday of its week), `2026-11`.
pub fn bucket(at: Ms, period: Period) -> String {
    let days = at.div_euclid(DAY);
    match period {
        Period::Day => {
            let (y, m, d) = civil(days);
            format!("{y:04}-{m:02}-{d:02}")
        }
        Period::Week => {
            // 1970-01-01 was a Thursday: Monday = days − (days + 3) mod 7.
            let monday = days - (days + 3).rem_euclid(7);
            let (y, m, d) = civil(monday);
            format!("{y:04}-{m:02}-{d:02}")
        }
        Period::Month => {
            let (y, m, _) = civil(days);
            format!("{y:04}-{m:02}")
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

pub fn board(tickets: &[Ticket], period: Period) -> Vec<Kpi> {
    let mut groups: BTreeMap<String, Vec<&Ticket>> = BTreeMap::new();
    for t in tickets {
        groups
            .entry(bucket(t.opened_at, period))
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
