//! Scoring: the ground truth (the schedule's problems) against the engine's tickets. Each
//! ticket is attributed to the problem of its device whose kind it answers and during which it
//! opened; a ticket that answers no problem, or planned work, is false; a second ticket for one
//! problem (a device behind a failed uplink, say) is a duplicate.

use crate::run::{Outcome, Stats};
use crate::schedule::{Class, Problem};
use crate::usage::process_usage;
use heartline_engine::{Ms, Ticket, TicketState};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Nearest-rank percentiles of one measure.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Spread {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    fn of(mut v: Vec<f64>) -> Spread {
        if v.is_empty() {
            return Spread::default();
        }
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Spread {
            n: v.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: v[v.len() - 1],
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ByFault {
    pub problems: usize,
    pub detected: usize,
    pub missed: usize,
    pub duplicates: usize,
    pub false_tickets: usize,
}

/// A ticket named in the findings, so a reader can look for it in the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub fault: String,
    pub device: String,
    pub ticket: Option<u64>,
    pub title: String,
    pub at_s: f64,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub scenario: String,
    pub seed: u64,
    pub devices: usize,
    pub engineers: usize,
    pub virtual_hours: f64,
    pub problems: usize,
    /// Problems that should produce a ticket and could by the end of the run.
    pub expected: usize,
    /// Problems whose ticket could not be due yet when the run ended.
    pub pending: usize,
    pub planned: usize,
    pub tickets: usize,
    pub detected: usize,
    pub missed: usize,
    pub false_tickets: usize,
    pub duplicate_tickets: usize,
    /// From the start of the problem to its ticket, in seconds (not preventive tickets).
    pub detect_s: Spread,
    /// Ticket opening minus when it was due by the hub's rules (the device's declared deadline),
    /// in milliseconds.
    pub past_deadline_ms: Spread,
    /// Uplink faults: the first ticket covering the outage minus the earliest declared deadline
    /// among the gateway and the devices behind it, in milliseconds (the first device behind a
    /// slow gateway falls due long before the gateway itself).
    pub uplink_past_first_deadline_ms: Spread,
    /// From the ticket to the first offer to an engineer, in seconds.
    pub dispatch_s: Spread,
    /// From the ticket to its verified close, in seconds.
    pub close_s: Spread,
    /// Preventive tickets: how long before the predicted failure they opened, in hours.
    pub trend_lead_h: Spread,
    pub closed: usize,
    pub auto_recovered: usize,
    /// Problems whose ticket finished (closed, auto-recovered, cancelled) while the problem
    /// still went on and no other ticket covered it: the hub stopped watching too early.
    pub finished_early: usize,
    pub customer_reports: usize,
    pub before_customer: usize,
    /// Of the tickets after the customer's report, those no system could have opened first:
    /// the problem was not due by the hub's rules (the device's declared deadline, a rule's
    /// hold) until after the customer called.
    pub after_customer_undetectable: usize,
    pub by_fault: BTreeMap<String, ByFault>,
    pub findings: Vec<Finding>,
    pub stats: Stats,
    /// Engine inputs per second of wall time, the whole simulator included.
    pub inputs_per_s: f64,
    pub cpu_s: f64,
    pub peak_rss_mib: f64,
}

/// Findings kept in a score (the counts are always complete).
const MAX_FINDINGS: usize = 50;
/// A ticket opening later than this past its due time is named in the findings.
const LATE_MS: Ms = 1_000;

pub fn score(o: &Outcome) -> Score {
    let mut touching: HashMap<&str, Vec<usize>> = HashMap::new();
    let ids: Vec<Vec<String>> = o
        .problems
        .iter()
        .map(|p| {
            p.devices
                .iter()
                .map(|&d| o.device_ids[d as usize].clone())
                .collect()
        })
        .collect();
    for (i, devs) in ids.iter().enumerate() {
        for d in devs {
            touching.entry(d.as_str()).or_default().push(i);
        }
    }
    let window_end = |p: &Problem| {
        let end = p.end.unwrap_or(o.end);
        if p.class == Class::Planned {
            end + crate::run::MAINTENANCE_MARGIN
        } else {
            end
        }
    };
    let mut matched: Vec<Vec<&Ticket>> = vec![Vec::new(); o.problems.len()];
    let mut findings = Vec::new();
    let mut by_fault: BTreeMap<String, ByFault> = BTreeMap::new();
    let mut false_tickets = 0;
    let at_s = |t: Ms| (t - o.start) as f64 / 1_000.0;
    for t in &o.tickets {
        let hit = touching.get(t.device.as_str()).and_then(|ps| {
            ps.iter().copied().find(|&i| {
                let p = &o.problems[i];
                p.matches(&t.root) && p.start <= t.opened_at && t.opened_at <= window_end(p)
            })
        });
        match hit {
            Some(i) if o.problems[i].expects_ticket() => matched[i].push(t),
            other => {
                false_tickets += 1;
                let fault = other.map_or("none", |i| o.problems[i].fault.name());
                by_fault.entry(fault.into()).or_default().false_tickets += 1;
                findings.push(Finding {
                    fault: fault.into(),
                    device: t.device.clone(),
                    ticket: Some(t.id),
                    title: t.title.clone(),
                    at_s: at_s(t.opened_at),
                    why: match other {
                        Some(_) => "false ticket: opened during planned work".into(),
                        None => "false ticket: no simulated problem explains it".into(),
                    },
                });
            }
        }
    }

    let mut s = Score {
        scenario: o.scenario.clone(),
        seed: o.seed,
        devices: o.devices,
        engineers: o.engineers,
        virtual_hours: (o.end - o.start) as f64 / 3_600_000.0,
        problems: o.problems.len(),
        expected: 0,
        pending: 0,
        planned: 0,
        tickets: o.tickets.len(),
        detected: 0,
        missed: 0,
        false_tickets,
        duplicate_tickets: 0,
        detect_s: Spread::default(),
        past_deadline_ms: Spread::default(),
        uplink_past_first_deadline_ms: Spread::default(),
        dispatch_s: Spread::default(),
        close_s: Spread::default(),
        trend_lead_h: Spread::default(),
        closed: 0,
        auto_recovered: 0,
        finished_early: 0,
        customer_reports: 0,
        before_customer: 0,
        after_customer_undetectable: 0,
        by_fault: BTreeMap::new(),
        findings: Vec::new(),
        stats: o.stats.clone(),
        inputs_per_s: o.stats.inputs as f64 / o.stats.wall_s.max(1e-9),
        cpu_s: 0.0,
        peak_rss_mib: 0.0,
    };
    let (mut detect, mut past, mut dispatch, mut close, mut lead) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut uplink_past = vec![];
    for (i, p) in o.problems.iter().enumerate() {
        let f = by_fault.entry(p.fault.name().into()).or_default();
        f.problems += 1;
        if !p.expects_ticket() {
            s.planned += 1;
            continue;
        }
        let tickets = &matched[i];
        let Some(earliest) = tickets.iter().min_by_key(|t| (t.opened_at, t.id)) else {
            // Not due by the end of the run (or never reported, so nothing was declared).
            let due = p.due.or(p.fail_at);
            let not_yet = match p.class {
                Class::Down => due.is_none_or(|d| d >= o.end),
                Class::Trend => p.fail_at.is_none_or(|d| d >= o.end),
                Class::Threshold | Class::Check => due.is_none_or(|d| d >= o.end),
                Class::Planned => true,
            };
            if not_yet {
                s.pending += 1;
            } else {
                s.expected += 1;
                s.missed += 1;
                f.missed += 1;
                findings.push(Finding {
                    fault: p.fault.name().into(),
                    device: ids[i][0].clone(),
                    ticket: None,
                    title: String::new(),
                    at_s: at_s(p.start),
                    why: format!(
                        "missed: no ticket (due at {:?} s)",
                        due.map(|d| at_s(d).round())
                    ),
                });
            }
            continue;
        };
        // The problem's own ticket is the one on its root device; any other is a duplicate.
        let root = &ids[i][0];
        let first = tickets
            .iter()
            .filter(|t| &t.device == root)
            .min_by_key(|t| (t.opened_at, t.id))
            .unwrap_or(earliest);
        s.expected += 1;
        s.detected += 1;
        f.detected += 1;
        if tickets.len() > 1 {
            s.duplicate_tickets += tickets.len() - 1;
            f.duplicates += tickets.len() - 1;
            for t in tickets.iter().filter(|t| t.id != first.id) {
                findings.push(Finding {
                    fault: p.fault.name().into(),
                    device: t.device.clone(),
                    ticket: Some(t.id),
                    title: t.title.clone(),
                    at_s: at_s(t.opened_at),
                    why: format!(
                        "duplicate of #{} ({}) for the same problem; it ended {}",
                        first.id,
                        first.title,
                        t.state.as_str()
                    ),
                });
            }
        }
        // Detection is the first sign the hub gave, whichever ticket it was.
        if p.class != Class::Trend {
            detect.push((earliest.opened_at - p.start) as f64 / 1_000.0);
        }
        if let Some(due) = p.due {
            let late = earliest.opened_at - due;
            past.push(late as f64);
            if late > LATE_MS {
                findings.push(Finding {
                    fault: p.fault.name().into(),
                    device: earliest.device.clone(),
                    ticket: Some(earliest.id),
                    title: earliest.title.clone(),
                    at_s: at_s(earliest.opened_at),
                    why: format!("late: opened {:.1} s after it was due", late as f64 / 1e3),
                });
            }
        }
        if let Some(first) = p.first_due {
            let late = earliest.opened_at - first;
            uplink_past.push(late as f64);
            if late > o.probe_timeout + LATE_MS {
                findings.push(Finding {
                    fault: p.fault.name().into(),
                    device: earliest.device.clone(),
                    ticket: Some(earliest.id),
                    title: earliest.title.clone(),
                    at_s: at_s(earliest.opened_at),
                    why: format!(
                        "late: opened {:.1} s after the first deadline behind the uplink",
                        late as f64 / 1e3
                    ),
                });
            }
        }
        if let Some(fail) = p.fail_at {
            lead.push((fail - first.opened_at) as f64 / 3_600_000.0);
        }
        if let Some(&at) = o.dispatched_at.get(&first.id) {
            dispatch.push((at - first.opened_at) as f64 / 1_000.0);
        }
        match (first.state, first.closed_at) {
            (TicketState::Closed, Some(c)) => {
                s.closed += 1;
                close.push((c - first.opened_at) as f64 / 1_000.0);
            }
            (TicketState::AutoRecovered, _) => s.auto_recovered += 1,
            _ => {}
        }
        let all_finished = tickets.iter().all(|t| t.state.is_terminal());
        let last_finished = tickets.iter().filter_map(|t| t.closed_at).max();
        if let (true, Some(at)) = (all_finished, last_finished)
            && p.end.is_none_or(|e| e > at + 1_000)
        {
            s.finished_early += 1;
            findings.push(Finding {
                fault: p.fault.name().into(),
                device: first.device.clone(),
                ticket: Some(first.id),
                title: first.title.clone(),
                at_s: at_s(at),
                why: format!(
                    "finished early: the ticket became {} while the problem went on (until {})",
                    first.state.as_str(),
                    p.end
                        .map_or("the end of the run".into(), |e| format!("{:.0} s", at_s(e)))
                ),
            });
        }
        if let Some(c) = p.customer_at {
            s.customer_reports += 1;
            if earliest.opened_at < c {
                s.before_customer += 1;
            } else {
                // Due by the hub's rules only after the call: the device had declared it would
                // be silent that long (or the hold had not passed), nothing could tell sooner.
                let due = p.first_due.or(p.due);
                let undetectable = due.is_some_and(|d| d >= c);
                s.after_customer_undetectable += usize::from(undetectable);
                findings.push(Finding {
                    fault: p.fault.name().into(),
                    device: earliest.device.clone(),
                    ticket: Some(earliest.id),
                    title: earliest.title.clone(),
                    at_s: at_s(earliest.opened_at),
                    why: match due {
                        Some(d) if undetectable => format!(
                            "after the customer ({:.0} s later), undetectable: not due until {:.0} s after the call",
                            (earliest.opened_at - c) as f64 / 1e3,
                            (d - c) as f64 / 1e3
                        ),
                        _ => format!(
                            "after the customer ({:.0} s later), though due {:.0} s before the call",
                            (earliest.opened_at - c) as f64 / 1e3,
                            due.map_or(f64::NAN, |d| (c - d) as f64 / 1e3)
                        ),
                    },
                });
            }
        }
    }
    s.detect_s = Spread::of(detect);
    s.past_deadline_ms = Spread::of(past);
    s.uplink_past_first_deadline_ms = Spread::of(uplink_past);
    s.dispatch_s = Spread::of(dispatch);
    s.close_s = Spread::of(close);
    s.trend_lead_h = Spread::of(lead);
    s.by_fault = by_fault;
    findings.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    findings.truncate(MAX_FINDINGS);
    s.findings = findings;
    let (cpu, rss) = process_usage();
    s.cpu_s = cpu;
    s.peak_rss_mib = rss;
    s
}

/// The score as a table for a terminal.
pub fn table(s: &Score) -> String {
    let mut out = String::new();
    let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<34} {v}\n"));
    let spread = |x: &Spread, unit: &str| {
        if x.n == 0 {
            "-".to_string()
        } else {
            format!(
                "p50 {:.1} {unit}, p99 {:.1} {unit}, max {:.1} {unit} (n = {})",
                x.p50, x.p99, x.max, x.n
            )
        }
    };
    row("scenario", format!("{} (seed {})", s.scenario, s.seed));
    row(
        "fleet",
        format!(
            "{} devices, {} engineers, {:.0} virtual hours",
            s.devices, s.engineers, s.virtual_hours
        ),
    );
    row(
        "problems",
        format!(
            "{} ({} expecting a ticket, {} planned, {} not yet due at the end)",
            s.problems, s.expected, s.planned, s.pending
        ),
    );
    row("tickets", s.tickets.to_string());
    row("detected", format!("{} of {}", s.detected, s.expected));
    row("missed", s.missed.to_string());
    row("false tickets", s.false_tickets.to_string());
    row("duplicate tickets", s.duplicate_tickets.to_string());
    row("time to detect", spread(&s.detect_s, "s"));
    row(
        "past the declared deadline",
        spread(&s.past_deadline_ms, "ms"),
    );
    row(
        "uplink: past the first deadline behind",
        spread(&s.uplink_past_first_deadline_ms, "ms"),
    );
    row("ticket → dispatch", spread(&s.dispatch_s, "s"));
    row("ticket → verified close", spread(&s.close_s, "s"));
    row(
        "preventive lead before failure",
        spread(&s.trend_lead_h, "h"),
    );
    row(
        "closed / auto-recovered",
        format!("{} / {}", s.closed, s.auto_recovered),
    );
    row(
        "finished while the problem went on",
        s.finished_early.to_string(),
    );
    row(
        "before the customer's report",
        format!(
            "{} of {} ({} of the others undetectable before it)",
            s.before_customer, s.customer_reports, s.after_customer_undetectable
        ),
    );
    row(
        "engine inputs",
        format!(
            "{} ({} reports, {} ticks), {:.0} inputs/s",
            s.stats.inputs, s.stats.reports, s.stats.ticks, s.inputs_per_s
        ),
    );
    if s.stats.probes > 0 {
        row(
            "uplinks probed / answered",
            format!("{} / {}", s.stats.probes, s.stats.probes_answered),
        );
    }
    row(
        "wall / CPU / peak RSS",
        format!(
            "{:.2} s / {:.2} s / {:.0} MiB",
            s.stats.wall_s, s.cpu_s, s.peak_rss_mib
        ),
    );
    out.push_str("\n  by fault                 problems detected missed duplicates false\n");
    for (k, f) in &s.by_fault {
        out.push_str(&format!(
            "  {k:<24} {:>8} {:>8} {:>6} {:>10} {:>5}\n",
            f.problems, f.detected, f.missed, f.duplicates, f.false_tickets
        ));
    }
    if !s.findings.is_empty() {
        out.push_str("\n  findings (first ones)\n");
        for f in s.findings.iter().take(10) {
            out.push_str(&format!(
                "  {:>9.0} s  {}  {}  {}\n",
                f.at_s,
                f.device,
                f.ticket.map_or("-".into(), |t| format!("#{t}")),
                f.why
            ));
        }
    }
    out
}
