//! The dispatch policy in virtual time: eligibility by area, skill and shift; load balancing;
//! nearest first; nobody eligible; respond-by miss → re-offer; the repair clock climbing the
//! escalation ladder level by level; a resolved ticket stopping the clocks.

use heartline_engine::dispatch::*;
use heartline_engine::{Area, Clocks, HOUR, Level, MINUTE, Ms, Pick, Shift, What};
use std::collections::HashMap;

/// Monday 2026-11-23 10:00 UTC.
const MON_10: Ms = 1_795_428_000_000;

fn eng(id: &str, cells: &[&str], skills: &[&str], shifts: Vec<Shift>) -> Engineer {
    Engineer {
        id: id.into(),
        regions: vec![],
        grid_cells: cells.iter().map(|s| s.to_string()).collect(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        shifts,
        location: None,
    }
}

fn job(cell: &str, kind: &str) -> Job {
    Job {
        region: "north".into(),
        grid_cell: cell.into(),
        kind: kind.into(),
        location: None,
    }
}

fn chosen(c: &Choice) -> &str {
    match c {
        Choice::Engineer { id, .. } => id,
        Choice::Nobody { .. } => "nobody",
    }
}

const DAYS: Shift = Shift {
    weekdays: 0b001_1111,
    start_min: 8 * 60,
    end_min: 18 * 60,
};
const NIGHTS: Shift = Shift {
    weekdays: 0x7f,
    start_min: 22 * 60,
    end_min: 6 * 60,
};

#[test]
fn shifts_know_the_weekday_and_run_past_midnight() {
    assert!(DAYS.covers(MON_10));
    assert!(!DAYS.covers(MON_10 + 9 * HOUR), "19:00");
    assert!(!DAYS.covers(MON_10 + 5 * 24 * HOUR), "Saturday");
    assert!(NIGHTS.covers(MON_10 + 13 * HOUR), "23:00");
    assert!(NIGHTS.covers(MON_10 + 17 * HOUR), "03:00 the next day");
    assert!(!NIGHTS.covers(MON_10));
}

#[test]
fn eligibility_by_area_skill_and_shift() {
    let roster = vec![
        eng("wrong-cell", &["G1"], &["camera"], vec![Shift::ALWAYS]),
        eng("wrong-skill", &["G7"], &["gateway"], vec![Shift::ALWAYS]),
        eng("off-duty", &["G7"], &["camera"], vec![NIGHTS]),
        eng("right", &["G7"], &["camera"], vec![DAYS]),
    ];
    let none = |_: &str| 0;
    let c = choose(MON_10, &job("G7", "camera"), &roster, &none, &[]);
    assert_eq!(chosen(&c), "right");
    let Choice::Engineer { reason, .. } = c else {
        unreachable!()
    };
    assert_eq!(
        reason,
        What::Chosen(Pick {
            engineer: "right".into(),
            area: Area::Grid("G7".into()),
            skill: "camera".into(),
            open: 0,
            km_tenths: None,
        })
    );
    // At night only the night shift is on: it has the area and skill.
    assert_eq!(
        chosen(&choose(
            MON_10 + 13 * HOUR,
            &job("G7", "camera"),
            &roster,
            &none,
            &[]
        )),
        "off-duty"
    );
    // A region covers too.
    let mut by_region = eng("regional", &[], &["nvr"], vec![Shift::ALWAYS]);
    by_region.regions = vec!["north".into()];
    assert_eq!(
        chosen(&choose(MON_10, &job("G9", "nvr"), &[by_region], &none, &[])),
        "regional"
    );
}

#[test]
fn nobody_eligible_is_said_plainly() {
    let roster = vec![eng("a", &["G1"], &["camera"], vec![Shift::ALWAYS])];
    let c = choose(MON_10, &job("G7", "camera"), &roster, &|_| 0, &[]);
    let Choice::Nobody { reason } = c else {
        panic!("{c:?}")
    };
    assert!(
        matches!(&reason, What::NobodyEligible { grid_cell, skill, .. } if grid_cell == "G7" && skill == "camera"),
        "{reason:?}"
    );
}

#[test]
fn ten_tickets_spread_over_the_least_loaded_then_nearest() {
    let mut roster = vec![
        eng("a", &["G7"], &["camera"], vec![Shift::ALWAYS]),
        eng("b", &["G7"], &["camera"], vec![Shift::ALWAYS]),
        eng("c", &["G7"], &["camera"], vec![Shift::ALWAYS]),
    ];
    let mut load: HashMap<String, usize> = HashMap::new();
    for _ in 0..10 {
        let l = load.clone();
        let c = choose(
            MON_10,
            &job("G7", "camera"),
            &roster,
            &|id| l.get(id).copied().unwrap_or(0),
            &[],
        );
        *load.entry(chosen(&c).to_string()).or_default() += 1;
    }
    let mut counts: Vec<usize> = load.values().copied().collect();
    counts.sort();
    assert_eq!(counts, vec![3, 3, 4]);
    // Equal load: the nearest goes.
    roster[0].location = Some((39.90, 116.40));
    roster[1].location = Some((39.95, 116.45));
    roster[2].location = Some((31.23, 121.47));
    let mut j = job("G7", "camera");
    j.location = Some((39.96, 116.46));
    let c = choose(MON_10, &j, &roster, &|_| 1, &[]);
    assert_eq!(chosen(&c), "b");
    let Choice::Engineer { reason, .. } = c else {
        unreachable!()
    };
    assert!(
        matches!(
            &reason,
            What::Chosen(Pick {
                km_tenths: Some(_),
                ..
            })
        ),
        "{reason:?}"
    );
    // Declined by b: the next one.
    assert_eq!(
        chosen(&choose(MON_10, &j, &roster, &|_| 1, &["b".into()])),
        "a"
    );
}

fn managers() -> Managers {
    Managers {
        grid_manager: "gm".into(),
        district_manager: "dm".into(),
        service_leader: "sl".into(),
    }
}

/// Steps the clocks through every deadline up to `until`, collecting actions with their times.
fn run(c: &mut Clocks, until: Ms) -> Vec<(Ms, Action)> {
    let mut out = Vec::new();
    while let Some(t) = c.next_deadline().filter(|&t| t <= until) {
        out.extend(c.tick(t, &managers()).into_iter().map(|a| (t, a)));
    }
    out
}

#[test]
fn an_unaccepted_dispatch_is_reoffered_at_respond_by() {
    let mut c = Clocks::new(MON_10, MON_10 + 15 * MINUTE, MON_10 + 4 * HOUR);
    c.offered = Some(("a".into(), MON_10));
    let actions = run(&mut c, MON_10 + 20 * MINUTE);
    assert_eq!(
        actions,
        vec![(
            MON_10 + 15 * MINUTE,
            Action::Reoffer {
                missed_by: "a".into()
            }
        )]
    );
    // Offered to b, who accepts in time: no further re-offer.
    c.offered = Some(("b".into(), MON_10 + 15 * MINUTE));
    c.accepted = true;
    assert!(run(&mut c, MON_10 + HOUR).is_empty());
}

#[test]
fn the_repair_clock_climbs_the_ladder_one_level_at_a_time() {
    let mut c = Clocks::new(MON_10, MON_10 + 15 * MINUTE, MON_10 + 4 * HOUR);
    c.offered = Some(("a".into(), MON_10));
    c.accepted = true;
    let actions = run(&mut c, MON_10 + 10 * HOUR);
    let climbs: Vec<(Ms, Level, String)> = actions
        .into_iter()
        .map(|(t, a)| match a {
            Action::Escalate { level, to, .. } => (t - MON_10, level, to),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        climbs,
        vec![
            (192 * MINUTE, Level::GridManager, "gm".to_string()),
            (4 * HOUR, Level::DistrictManager, "dm".to_string()),
            (6 * HOUR, Level::ServiceLeader, "sl".to_string()),
        ]
    );
    assert_eq!(c.next_deadline(), None, "the top of the ladder");
}

#[test]
fn a_late_tick_climbs_every_level_it_passed_in_order() {
    let mut c = Clocks::new(MON_10, MON_10 + 15 * MINUTE, MON_10 + 4 * HOUR);
    let actions = c.tick(MON_10 + 7 * HOUR, &managers());
    let levels: Vec<Level> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Escalate { level, .. } => Some(*level),
            _ => None,
        })
        .collect();
    assert_eq!(
        levels,
        vec![
            Level::GridManager,
            Level::DistrictManager,
            Level::ServiceLeader
        ]
    );
}

#[test]
fn resolving_stops_the_clocks() {
    let mut c = Clocks::new(MON_10, MON_10 + 15 * MINUTE, MON_10 + 4 * HOUR);
    c.offered = Some(("a".into(), MON_10));
    c.accepted = true;
    c.stopped = true;
    assert_eq!(c.next_deadline(), None);
    assert!(c.tick(MON_10 + 100 * HOUR, &managers()).is_empty());
}

#[test]
fn shifts_parse_from_the_inventory_form() {
    assert_eq!(Shift::parse("mon-fri 08:00-18:00"), Ok(DAYS));
    assert_eq!(Shift::parse("daily 22:00-06:00"), Ok(NIGHTS));
    assert_eq!(Shift::parse("always"), Ok(Shift::ALWAYS));
    let weekend = Shift::parse("sat,sun 09:00-13:00").unwrap();
    assert_eq!(weekend.weekdays, 0b110_0000);
    // A day range may wrap over the week's end.
    assert_eq!(
        Shift::parse("fri-mon 00:00-24:00").unwrap().weekdays,
        0b111_0001
    );
    for bad in ["", "mon", "mon 8-18", "mon 08:00-08:00", "xyz 08:00-09:00"] {
        assert!(Shift::parse(bad).is_err(), "{bad:?} accepted");
    }
}
