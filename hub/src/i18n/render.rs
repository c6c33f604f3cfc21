//! The engine's vocabulary in a reader's language: ticket states, severities, faults, titles,
//! timeline entries and notices. Pure functions of (language, zone, value); the engine stores
//! kinds and parameters, never sentences.

use super::{Lang, t};
use crate::localtime::Zone;
use heartline_engine::{
    Actor, Area, Detail, Escalation, EventKind, FaultKind, Level, Ms, Notice, NoticeKind, Pick,
    Refusal, Ticket, TicketId, TicketState, TimelineEntry, What,
};
use heartline_proto::Severity;

pub fn state_id(s: TicketState) -> &'static str {
    match s {
        TicketState::Open => "state-open",
        TicketState::Dispatched => "state-dispatched",
        TicketState::Accepted => "state-accepted",
        TicketState::OnSite => "state-on-site",
        TicketState::Resolved => "state-resolved",
        TicketState::Closed => "state-closed",
        TicketState::AutoRecovered => "state-auto-recovered",
        TicketState::Reopened => "state-reopened",
        TicketState::Cancelled => "state-cancelled",
    }
}

pub fn state(lang: Lang, s: TicketState) -> String {
    t(lang, state_id(s), &[])
}

pub fn severity(lang: Lang, s: Severity) -> String {
    let id = match s {
        Severity::Info => "severity-info",
        Severity::Minor => "severity-minor",
        Severity::Major => "severity-major",
        Severity::Critical => "severity-critical",
    };
    t(lang, id, &[])
}

/// An SLA state as `views::sla_state` names it ("on track", "at risk", "breached", "met").
pub fn sla(lang: Lang, code: &str) -> String {
    t(lang, &format!("sla-{}", code.replace(' ', "-")), &[])
}

pub fn level(lang: Lang, l: Level) -> String {
    let id = match l {
        Level::Engineer => "level-engineer",
        Level::GridManager => "level-grid-manager",
        Level::DistrictManager => "level-district-manager",
        Level::ServiceLeader => "level-service-leader",
    };
    t(lang, id, &[])
}

/// Who did it: the kind in words, and the id (empty for the system).
pub fn actor(lang: Lang, a: &Actor) -> (String, String) {
    let (id, who) = match a {
        Actor::Device(d) => ("actor-device", d.as_str()),
        Actor::System => ("actor-system", ""),
        Actor::Engineer(e) => ("actor-engineer", e.as_str()),
        Actor::Customer(c) => ("actor-customer", c.as_str()),
        Actor::Operator(o) => ("actor-operator", o.as_str()),
    };
    (t(lang, id, &[]), who.to_string())
}

fn event(lang: Lang, k: EventKind) -> String {
    let id = match k {
        EventKind::Reboot => "event-reboot",
        EventKind::WatchdogReset => "event-watchdog-reset",
        EventKind::PowerLoss => "event-power-loss",
        EventKind::Brownout => "event-brownout",
        EventKind::Crash => "event-crash",
        EventKind::LinkDown => "event-link-down",
        EventKind::LinkUp => "event-link-up",
        EventKind::Other => "event-other",
    };
    t(lang, id, &[])
}

pub fn fault(lang: Lang, f: &FaultKind) -> String {
    match f {
        FaultKind::Silent => t(lang, "fault-silent", &[]),
        FaultKind::Offline => t(lang, "fault-offline", &[]),
        FaultKind::Threshold { rule, instance } if instance.is_empty() => {
            t(lang, "fault-threshold", &[("rule", rule)])
        }
        FaultKind::Threshold { rule, instance } => t(
            lang,
            "fault-threshold-on",
            &[("rule", rule), ("instance", instance)],
        ),
        FaultKind::Check { name } => t(lang, "fault-check", &[("name", name)]),
        FaultKind::Event { kind } => t(lang, "fault-event", &[("kind", &event(lang, *kind))]),
        FaultKind::Trend { rule, instance } if instance.is_empty() => {
            t(lang, "fault-trend", &[("rule", rule)])
        }
        FaultKind::Trend { rule, instance } => t(
            lang,
            "fault-trend-on",
            &[("rule", rule), ("instance", instance)],
        ),
        FaultKind::Reported => t(lang, "fault-reported", &[]),
    }
}

/// "device: fault", marked when preventive; for an unreachable uplink, how many devices behind
/// it are cut off with it.
pub fn title(lang: Lang, tk: &Ticket) -> String {
    if tk.root.is_down() && !tk.affected.is_empty() {
        return t(
            lang,
            "ticket-title-uplink",
            &[
                ("device", &tk.device),
                ("count", &tk.affected.len().to_string()),
            ],
        );
    }
    let id = if matches!(tk.root, FaultKind::Trend { .. }) {
        "ticket-title-preventive"
    } else {
        "ticket-title"
    };
    t(
        lang,
        id,
        &[("device", &tk.device), ("fault", &fault(lang, &tk.root))],
    )
}

fn detail(lang: Lang, d: &Detail) -> String {
    match d {
        Detail::Text(text) => text.clone(),
        Detail::Silent { for_s, checkin_s } => t(
            lang,
            "detail-silent",
            &[
                ("for", &for_s.to_string()),
                ("checkin", &checkin_s.to_string()),
            ],
        ),
        Detail::ReportedBy { user } => t(lang, "detail-reported", &[("user", user)]),
    }
}

/// A duration in days, hours, minutes and seconds (`1h 5m`, `1小时 5分钟`), at least 1 s.
pub fn duration(lang: Lang, ms: Ms) -> String {
    let s = (ms / 1_000).max(1);
    let parts = [
        ("dur-d", s / 86_400),
        ("dur-h", s / 3_600 % 24),
        ("dur-m", s / 60 % 60),
        ("dur-s", s % 60),
    ];
    parts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(id, n)| t(lang, id, &[("n", &n.to_string())]))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pick(lang: Lang, p: &Pick) -> String {
    let area = match &p.area {
        Area::Grid(id) => t(lang, "area-grid", &[("id", id)]),
        Area::Region(id) => t(lang, "area-region", &[("id", id)]),
    };
    let open = p.open.to_string();
    let mut args = vec![
        ("engineer", p.engineer.as_str()),
        ("area", area.as_str()),
        ("skill", p.skill.as_str()),
        ("open", open.as_str()),
    ];
    let km = p
        .km_tenths
        .map(|k| format!("{}.{}", k / 10, k % 10))
        .unwrap_or_default();
    let id = if p.km_tenths.is_some() {
        args.push(("km", &km));
        "tl-chosen-near"
    } else {
        "tl-chosen"
    };
    t(lang, id, &args)
}

/// What happened, in words (without the state change an entry may also record).
pub fn what(lang: Lang, zone: &Zone, w: &What) -> String {
    match w {
        What::Moved => String::new(),
        What::Opened {
            detail: d,
            predicted_at: Some(at),
            ..
        } => t(
            lang,
            "tl-opened-predicted",
            &[("detail", &detail(lang, d)), ("at", &zone.format(*at))],
        ),
        What::Opened { detail: d, .. } => t(lang, "tl-opened", &[("detail", &detail(lang, d))]),
        What::FaultBack { detail: d } => t(lang, "tl-fault-back", &[("detail", &detail(lang, d))]),
        What::CustomerReport { text } => t(lang, "tl-customer-report", &[("text", text)]),
        What::Chosen(p) => pick(lang, p),
        What::NobodyEligible {
            grid_cell,
            region,
            skill,
        } => t(
            lang,
            "tl-nobody-eligible",
            &[("grid", grid_cell), ("region", region), ("skill", skill)],
        ),
        What::AllPassed { engineers } => t(
            lang,
            "tl-all-passed",
            &[("engineers", &engineers.join(", "))],
        ),
        What::Dispatched { engineer } => t(lang, "tl-dispatched", &[("engineer", engineer)]),
        What::Declined { by, reason } => t(lang, "tl-declined", &[("by", by), ("reason", reason)]),
        What::Resolved { note } => note.clone(),
        What::Cancelled { reason } => reason.clone(),
        What::FalseAlarm { uplink, behind } => t(
            lang,
            "tl-false-alarm",
            &[("uplink", uplink), ("behind", &behind.to_string())],
        ),
        What::HandedOver { from, to } => t(lang, "tl-handed-over", &[("from", from), ("to", to)]),
        What::OfferLapsed {
            engineer,
            window_min,
        } => t(
            lang,
            "tl-offer-lapsed",
            &[("engineer", engineer), ("min", &window_min.to_string())],
        ),
        What::Escalated { level: l, to, why } => {
            let why = match why {
                Escalation::RepairTimeMostlyUsed => "esc-repair-time-used",
                Escalation::RepairByBreached => "esc-breached",
                Escalation::BreachedFurther => "esc-breached-further",
                Escalation::NobodyEligible => "esc-nobody-eligible",
            };
            let to = if to.is_empty() {
                t(lang, "nobody-configured", &[])
            } else {
                to.clone()
            };
            t(
                lang,
                "tl-escalated",
                &[
                    ("level", &level(lang, *l)),
                    ("to", &to),
                    ("why", &t(lang, why, &[])),
                ],
            )
        }
        What::Flapping {
            changes,
            window_min,
        } => t(
            lang,
            "tl-flapping",
            &[
                ("changes", &changes.to_string()),
                ("min", &window_min.to_string()),
            ],
        ),
        What::VerificationFailed { fault: f } => t(
            lang,
            "tl-verification-failed",
            &[("fault", &fault(lang, f))],
        ),
        What::Verifying { for_ms } => t(
            lang,
            "tl-verifying",
            &[("duration", &duration(lang, *for_ms))],
        ),
        What::Verified => t(lang, "tl-verified", &[]),
        What::RecoveredBeforeDispatch => t(lang, "tl-recovered-before-dispatch", &[]),
        What::RecoveredBeforeAccept => t(lang, "tl-recovered-before-accept", &[]),
        What::AlreadyRecovered => t(lang, "tl-already-recovered", &[]),
        What::Merged { into, uplink } if uplink.is_empty() => {
            t(lang, "tl-merged-unnamed", &[("into", &into.to_string())])
        }
        What::Merged { into, uplink } => t(
            lang,
            "tl-merged",
            &[("into", &into.to_string()), ("uplink", uplink)],
        ),
        What::DeviceHealthy => t(lang, "tl-device-healthy", &[]),
        What::Note { text } => t(lang, "tl-note", &[("text", text)]),
        What::Rated { stars, comment } if comment.is_empty() => {
            t(lang, "tl-rated", &[("stars", &stars.to_string())])
        }
        What::Rated { stars, comment } => t(
            lang,
            "tl-rated-comment",
            &[("stars", &stars.to_string()), ("comment", comment)],
        ),
        What::Legacy { text } => text.clone(),
    }
}

/// A customer report's class and the words that decided it, for staff.
pub fn classification(lang: Lang, text: &str) -> String {
    let v = crate::classify::classify(text);
    if v.matched.is_empty() {
        return t(lang, "report-classified-other", &[]);
    }
    t(
        lang,
        "report-classified",
        &[
            ("class", &t(lang, v.class.message_id(), &[])),
            ("words", &v.matched.join(", ")),
        ],
    )
}

/// Why a customer report went to its device, for staff.
pub fn match_reason(lang: Lang, why: &crate::classify::matching::Reason) -> String {
    use crate::classify::matching::Reason;
    match why {
        Reason::Chosen { device } => t(lang, "report-match-chosen", &[("device", device)]),
        Reason::DeviceNamed { device } => t(lang, "report-match-device", &[("device", device)]),
        Reason::SiteTicket { site, ticket } => t(
            lang,
            "report-match-site-ticket",
            &[("site", site), ("ticket", &ticket.to_string())],
        ),
        Reason::SiteDevice { site, kind, device } => t(
            lang,
            "report-match-site-device",
            &[("site", site), ("kind", kind), ("device", device)],
        ),
        Reason::OnlyTicket { ticket, class } => t(
            lang,
            "report-match-only-ticket",
            &[
                ("ticket", &ticket.to_string()),
                ("class", &t(lang, class, &[])),
            ],
        ),
    }
}

/// Why an action on a ticket was refused, and what to do instead.
pub fn refusal(
    lang: Lang,
    ticket: TicketId,
    action: &str,
    state_now: TicketState,
    why: Refusal,
) -> String {
    let why_id = match why {
        Refusal::OnlyCustomerRates => "refusal-only-customer-rates",
        Refusal::StarsOutOfRange => "refusal-stars",
        Refusal::RateWhenClosed => "refusal-rate-when-closed",
        Refusal::Finished => "refusal-finished",
        Refusal::AlreadyWorked => "refusal-already-worked",
        Refusal::OnlyDispatchedDeclined => "refusal-only-dispatched-declined",
        Refusal::OnlyDispatchedAccepted => "refusal-only-dispatched-accepted",
        Refusal::AcceptFirst => "refusal-accept-first",
        Refusal::AwaitingVerification => "refusal-awaiting-verification",
        Refusal::AlreadyTheirs => "refusal-already-theirs",
        Refusal::OnlyWorkedHandedOver => "refusal-only-worked-handed-over",
    };
    t(
        lang,
        "err-refused",
        &[
            (
                "action",
                &t(lang, &format!("action-{}", action.replace(' ', "-")), &[]),
            ),
            ("ticket", &ticket.to_string()),
            ("state", &state(lang, state_now)),
            ("hint", &t(lang, why_id, &[])),
        ],
    )
}

/// A timeline entry as one line: the state change, if any, then what happened.
pub fn entry(lang: Lang, zone: &Zone, e: &TimelineEntry) -> String {
    let why = what(lang, zone, &e.what);
    match e.change {
        None => why,
        Some((from, to)) => {
            let (from, to) = (state(lang, from), state(lang, to));
            if why.is_empty() {
                t(lang, "tl-change", &[("from", &from), ("to", &to)])
            } else {
                t(
                    lang,
                    "tl-change-why",
                    &[("from", &from), ("to", &to), ("why", &why)],
                )
            }
        }
    }
}

/// A notice's text for its reader; `title` is the ticket's title in `lang`.
pub fn notice(lang: Lang, zone: &Zone, n: &Notice, title: &str) -> String {
    let id = match n.kind {
        NoticeKind::Dispatched => "notice-dispatched",
        NoticeKind::Withdrawn => "notice-withdrawn",
        NoticeKind::Escalated => "notice-escalated",
        NoticeKind::Unassigned => "notice-unassigned",
    };
    let ticket = n.ticket.to_string();
    t(
        lang,
        id,
        &[
            ("ticket", &ticket),
            ("title", title),
            ("what", &what(lang, zone, &n.what)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::catalog;
    use heartline_engine::TicketAction;

    /// One of every kind of timeline entry. The `match` makes a new kind a compile error here
    /// until it is added (and so rendered and checked below).
    fn every_what() -> Vec<What> {
        let faults = every_fault();
        let mut all = vec![
            What::Moved,
            What::Opened {
                fault: FaultKind::Silent,
                detail: Detail::Silent {
                    for_s: 20,
                    checkin_s: 10,
                },
                predicted_at: None,
            },
            What::Opened {
                fault: FaultKind::Silent,
                detail: Detail::Text("disk 97 %".into()),
                predicted_at: Some(1_796_311_800_000),
            },
            What::Opened {
                fault: FaultKind::Reported,
                detail: Detail::ReportedBy {
                    user: "alice".into(),
                },
                predicted_at: None,
            },
            What::FaultBack {
                detail: Detail::Text("rtsp CRIT".into()),
            },
            What::CustomerReport {
                text: "摄像头黑屏".into(),
            },
            What::Chosen(Pick {
                engineer: "e".into(),
                area: Area::Grid("G7".into()),
                skill: "camera".into(),
                open: 1,
                km_tenths: None,
            }),
            What::Chosen(Pick {
                engineer: "e".into(),
                area: Area::Region("east".into()),
                skill: "camera".into(),
                open: 2,
                km_tenths: Some(34),
            }),
            What::NobodyEligible {
                grid_cell: "G7".into(),
                region: "east".into(),
                skill: "camera".into(),
            },
            What::AllPassed {
                engineers: vec!["a".into(), "b".into()],
            },
            What::Dispatched {
                engineer: "e".into(),
            },
            What::Declined {
                by: "e".into(),
                reason: "no ladder".into(),
            },
            What::Resolved {
                note: "replaced".into(),
            },
            What::Cancelled {
                reason: "duplicate".into(),
            },
            What::HandedOver {
                from: "a".into(),
                to: "b".into(),
            },
            What::OfferLapsed {
                engineer: "a".into(),
                window_min: 60,
            },
            What::Flapping {
                changes: 3,
                window_min: 10,
            },
            What::Verifying { for_ms: 3_723_000 },
            What::Verified,
            What::RecoveredBeforeDispatch,
            What::RecoveredBeforeAccept,
            What::AlreadyRecovered,
            What::Merged {
                into: 3,
                uplink: "gw-1".into(),
            },
            What::Merged {
                into: 3,
                uplink: String::new(),
            },
            What::DeviceHealthy,
            What::FalseAlarm {
                uplink: "gw-1".into(),
                behind: 4,
            },
            What::Note {
                text: "spare part ordered".into(),
            },
            What::Rated {
                stars: 5,
                comment: String::new(),
            },
            What::Rated {
                stars: 4,
                comment: "快".into(),
            },
            What::Legacy {
                text: "opened: old".into(),
            },
        ];
        for level in [
            Level::GridManager,
            Level::DistrictManager,
            Level::ServiceLeader,
        ] {
            for why in [
                Escalation::RepairTimeMostlyUsed,
                Escalation::RepairByBreached,
                Escalation::BreachedFurther,
                Escalation::NobodyEligible,
            ] {
                all.push(What::Escalated {
                    level,
                    to: "m".into(),
                    why,
                });
            }
        }
        all.push(What::Escalated {
            level: Level::Engineer,
            to: String::new(),
            why: Escalation::NobodyEligible,
        });
        all.extend(
            faults
                .into_iter()
                .map(|fault| What::VerificationFailed { fault }),
        );
        for w in &all {
            match w {
                What::Moved
                | What::Opened { .. }
                | What::FaultBack { .. }
                | What::CustomerReport { .. }
                | What::Chosen(_)
                | What::NobodyEligible { .. }
                | What::AllPassed { .. }
                | What::Dispatched { .. }
                | What::Declined { .. }
                | What::Resolved { .. }
                | What::Cancelled { .. }
                | What::HandedOver { .. }
                | What::OfferLapsed { .. }
                | What::Escalated { .. }
                | What::Flapping { .. }
                | What::VerificationFailed { .. }
                | What::Verifying { .. }
                | What::Verified
                | What::RecoveredBeforeDispatch
                | What::RecoveredBeforeAccept
                | What::AlreadyRecovered
                | What::Merged { .. }
                | What::DeviceHealthy
                | What::FalseAlarm { .. }
                | What::Note { .. }
                | What::Rated { .. }
                | What::Legacy { .. } => {}
            }
        }
        all
    }

    fn every_fault() -> Vec<FaultKind> {
        let mut all = vec![
            FaultKind::Silent,
            FaultKind::Offline,
            FaultKind::Threshold {
                rule: "cpu".into(),
                instance: String::new(),
            },
            FaultKind::Threshold {
                rule: "disk".into(),
                instance: "/".into(),
            },
            FaultKind::Check {
                name: "rtsp".into(),
            },
            FaultKind::Trend {
                rule: "disk_full".into(),
                instance: String::new(),
            },
            FaultKind::Trend {
                rule: "disk_full".into(),
                instance: "/var".into(),
            },
            FaultKind::Reported,
        ];
        for kind in [
            EventKind::Reboot,
            EventKind::WatchdogReset,
            EventKind::PowerLoss,
            EventKind::Brownout,
            EventKind::Crash,
            EventKind::LinkDown,
            EventKind::LinkUp,
            EventKind::Other,
        ] {
            all.push(FaultKind::Event { kind });
        }
        all
    }

    /// Rendered text that shows a catalogue mistake: a message id, or Fluent's mark of a
    /// missing argument.
    fn assert_clean(text: &str, lang: Lang, what: &str) {
        assert!(
            !text.contains("{$") && !text.contains("{ $"),
            "{}: {what}: missing argument in {text:?}",
            lang.tag()
        );
        for id in catalog().ids(lang) {
            assert!(
                !text.contains(&id),
                "{}: {what}: raw message id {id} in {text:?}",
                lang.tag()
            );
        }
    }

    #[test]
    fn every_timeline_entry_fault_state_and_notice_renders_in_both_languages() {
        let zone = Zone::default();
        for lang in Lang::ALL {
            for w in every_what() {
                let text = what(lang, &zone, &w);
                assert_clean(&text, lang, &format!("{w:?}"));
                let e = TimelineEntry {
                    at: 0,
                    actor: Actor::System,
                    change: Some((TicketState::Open, TicketState::Dispatched)),
                    what: w.clone(),
                };
                assert_clean(&entry(lang, &zone, &e), lang, &format!("{w:?}"));
                for kind in [
                    NoticeKind::Dispatched,
                    NoticeKind::Withdrawn,
                    NoticeKind::Escalated,
                    NoticeKind::Unassigned,
                ] {
                    let n = Notice {
                        ticket: 7 as TicketId,
                        at: 0,
                        to: "e".into(),
                        kind,
                        what: w.clone(),
                    };
                    assert_clean(
                        &notice(lang, &zone, &n, "cam-1"),
                        lang,
                        &format!("{kind:?}"),
                    );
                }
            }
            for text in ["机房断电", "camera black screen", "hello"] {
                assert_clean(&classification(lang, text), lang, text);
            }
            use crate::classify::matching::Reason;
            let (d, site) = ("cam-1".to_string(), "北门".to_string());
            for why in [
                Reason::Chosen { device: d.clone() },
                Reason::DeviceNamed { device: d.clone() },
                Reason::SiteTicket {
                    site: site.clone(),
                    ticket: 7,
                },
                Reason::SiteDevice {
                    site,
                    kind: "camera".into(),
                    device: d,
                },
                Reason::OnlyTicket {
                    ticket: 7,
                    class: crate::classify::Class::CameraVideo.message_id().into(),
                },
            ] {
                assert_clean(&match_reason(lang, &why), lang, &format!("{why:?}"));
            }
            for f in every_fault() {
                assert_clean(&fault(lang, &f), lang, &format!("{f:?}"));
            }
            for s in TicketState::ALL {
                assert_clean(&state(lang, s), lang, &format!("{s:?}"));
            }
            let actions = [
                TicketAction::Dispatch {
                    engineer: "e".into(),
                },
                TicketAction::Decline {
                    reason: String::new(),
                },
                TicketAction::Accept,
                TicketAction::OnSite,
                TicketAction::Note {
                    text: String::new(),
                },
                TicketAction::Resolve {
                    note: String::new(),
                },
                TicketAction::Cancel {
                    reason: String::new(),
                },
                TicketAction::Handover { to: "e".into() },
                TicketAction::Rate {
                    stars: 5,
                    comment: String::new(),
                },
            ];
            for a in &actions {
                for r in Refusal::ALL {
                    let text = refusal(lang, 3, a.name(), TicketState::Closed, r);
                    assert_clean(&text, lang, &format!("{a:?} {r:?}"));
                }
            }
            for s in [
                Severity::Info,
                Severity::Minor,
                Severity::Major,
                Severity::Critical,
            ] {
                assert_clean(&severity(lang, s), lang, &format!("{s:?}"));
            }
            for code in ["on track", "at risk", "breached", "met"] {
                assert_clean(&sla(lang, code), lang, code);
            }
            for a in [
                Actor::System,
                Actor::Device("d".into()),
                Actor::Engineer("e".into()),
                Actor::Customer("c".into()),
                Actor::Operator("o".into()),
            ] {
                assert_clean(&actor(lang, &a).0, lang, &format!("{a:?}"));
            }
        }
    }

    #[test]
    fn english_keeps_the_sentences_of_the_old_timeline() {
        let zone = Zone::default();
        let e = |change, what| {
            entry(
                Lang::En,
                &zone,
                &TimelineEntry {
                    at: 0,
                    actor: Actor::System,
                    change,
                    what,
                },
            )
        };
        use TicketState::*;
        assert_eq!(
            e(
                Some((Open, Dispatched)),
                What::Dispatched {
                    engineer: "eng-0".into()
                }
            ),
            "open → dispatched: dispatched to eng-0"
        );
        assert_eq!(
            e(Some((Dispatched, Accepted)), What::Moved),
            "dispatched → accepted"
        );
        assert_eq!(
            e(None, What::Verifying { for_ms: 500 }),
            "verifying: the device must stay healthy for 1s"
        );
        assert_eq!(
            e(
                None,
                What::Opened {
                    fault: FaultKind::Silent,
                    detail: Detail::Silent {
                        for_s: 20,
                        checkin_s: 10
                    },
                    predicted_at: None
                }
            ),
            "opened: no report for 20 s (declared check-in 10 s)"
        );
        assert_eq!(
            e(
                None,
                What::Chosen(Pick {
                    engineer: "b".into(),
                    area: Area::Grid("G7".into()),
                    skill: "camera".into(),
                    open: 1,
                    km_tenths: Some(34)
                })
            ),
            "chosen: b — covers grid G7, skill camera, 1 open ticket, 3.4 km away"
        );
        let zh = entry(
            Lang::ZhCn,
            &zone,
            &TimelineEntry {
                at: 0,
                actor: Actor::System,
                change: Some((Open, Dispatched)),
                what: What::Dispatched {
                    engineer: "eng-0".into(),
                },
            },
        );
        assert_eq!(zh, "待派单 → 已派单：派给 eng-0");
        assert_eq!(
            refusal(Lang::En, 3, "rate", Open, Refusal::RateWhenClosed),
            "cannot rate ticket 3: it is open; a ticket can be rated once it is closed",
            "the English of the refusal is the engine's"
        );
    }
}
