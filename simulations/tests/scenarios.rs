//! The shipped scenarios run in virtual time against the hub's engine (scaled down so the suite
//! stays quick in a debug build), the storm's acceptance, determinism, and line-exact errors in
//! broken scenario files.

use heartline_sim::run::Options;
use heartline_sim::run_and_score;
use heartline_sim::scenario::Scenario;
use heartline_sim::score::Score;
use std::path::{Path, PathBuf};

fn shipped(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario, seed: Option<u64>) -> Score {
    let opts = Options {
        seed,
        progress: false,
    };
    run_and_score(s, &opts).unwrap_or_else(|e| panic!("{e}"))
}

/// A tenth of the storm: about 1,000 devices for two virtual days, every kind of fault and a hub
/// restart in the middle of the storm.
fn storm() -> Score {
    run(&shipped("storm").scaled(0.1), None)
}

#[test]
fn the_storm_misses_nothing_opens_no_false_ticket_and_detects_by_the_declared_deadline() {
    let s = storm();
    assert!(
        s.expected >= 60,
        "the storm has its problems: {}",
        s.expected
    );
    assert_eq!(s.missed, 0, "{:#?}", s.findings);
    assert_eq!(s.false_tickets, 0, "{:#?}", s.findings);
    assert_eq!(s.detected, s.expected);
    // Detection against each device's own declared deadline (last report + declared check-in +
    // grace; a will + offline hold; the first bad report + the rule's hold).
    assert!(s.past_deadline_ms.n >= 50);
    assert!(
        s.past_deadline_ms.p50 <= 1_000.0,
        "p50 past the deadline: {:?}",
        s.past_deadline_ms
    );
    // The issue's target: p99 within 1 s. A device dying on its own behind a gateway that reports
    // less often than the grace period waits for the gateway's verdict (one ticket per problem);
    // the hub probes the gateway for a report at once, so the wait is one round trip.
    assert!(
        s.past_deadline_ms.p99 <= 1_000.0,
        "p99 past the deadline: {:?}",
        s.past_deadline_ms
    );
    assert!(s.stats.probes > 0 && s.stats.probes_answered > 0);
    assert_eq!(s.stats.restarts, 1, "the hub restarted during the storm");
    assert!(s.by_fault["maintenance"].problems > 0);
    // Before the customer's call, unless no system could know: the device was not due by its
    // own declared deadline until after the call (a sleepy sensor). The restart gives a fresh
    // grace only to what fell due around it, so it puts no ticket after a call.
    assert!(s.customer_reports > 0);
    assert_eq!(
        s.before_customer + s.after_customer_undetectable,
        s.customer_reports,
        "{:#?}",
        s.findings
    );
    assert!(
        s.stats.resent > 0,
        "devices re-sent their outboxes after the restart"
    );
}

#[test]
fn the_storm_opens_one_ticket_per_problem() {
    let s = storm();
    // A device silent behind an uplink waits until the uplink was heard from after the device
    // was due (or a sibling behind it was), or the uplink's own deadline passes: a camera whose
    // gateway died seconds before it was due joins the gateway's ticket instead of opening its own.
    assert_eq!(s.duplicate_tickets, 0, "{:#?}", s.findings);
}

#[test]
fn without_probes_a_death_behind_a_slow_gateway_waits_for_the_gateway_but_is_still_one_ticket() {
    let mut storm = shipped("storm").scaled(0.1);
    storm.detection.probe_uplinks = false;
    let s = run(&storm, None);
    assert_eq!(s.stats.probes, 0);
    assert_eq!(
        (s.missed, s.false_tickets, s.duplicate_tickets),
        (0, 0, 0),
        "{:#?}",
        s.findings
    );
    // Waiting for the gateway's next report (gateways every 1–5 min) is what probing removes;
    // the wait is bounded by the slowest gateway's check-in plus grace (5 min 30 s).
    assert!(
        s.past_deadline_ms.p99 > 1_000.0 && s.past_deadline_ms.max <= 330_000.0,
        "{:?}",
        s.past_deadline_ms
    );
}

/// A quarter of the slow-gateways scenario (issue 15): routers every 7–10 min in front of
/// devices every 30 s–1 min, switches behind routers, routers dying alone, with devices, and
/// behind nothing; devices dying behind healthy routers; two hub restarts inside the outages.
#[test]
fn slow_gateways_give_one_ticket_per_problem_one_probe_timeout_after_the_first_deadline() {
    let sg = shipped("slow-gateways").scaled(0.25);
    let timeout = sg.detection.probe_timeout as f64;
    for seed in [1, 2, 3] {
        let s = run(&sg, Some(seed));
        assert!(s.expected >= 60, "seed {seed}: {}", s.expected);
        assert_eq!(
            (s.missed, s.false_tickets, s.duplicate_tickets),
            (0, 0, 0),
            "seed {seed}: {:#?}",
            s.findings
        );
        // Dead devices behind a dead gateway: ticketed within the probe timeout (plus 1 s) of
        // the first of their declared deadlines, not at the gateway's own minutes later.
        let up = &s.uplink_past_first_deadline_ms;
        assert!(up.n >= 10, "seed {seed}: {up:?}");
        assert!(up.p99 <= timeout + 1_000.0, "seed {seed}: {up:?}");
        assert!(
            s.past_deadline_ms.p99 <= 1_000.0,
            "seed {seed}: {:?}",
            s.past_deadline_ms
        );
        assert_eq!(s.stats.restarts, 2);
        assert!(s.by_fault["uplink_down"].problems >= 10);
        assert!(s.customer_reports > 0 && s.before_customer == s.customer_reports);
    }
}

/// The same fleet as before issue 15 behaved: a probe timeout longer than `topology_wait_max`
/// means nothing acts on the silence, and devices behind a dead router get tickets of their own.
#[test]
fn without_the_probe_timeout_slow_gateways_give_duplicates() {
    let mut sg = shipped("slow-gateways").scaled(0.25);
    sg.detection.probe_timeout = sg.detection.topology_wait_max * 10;
    let s = run(&sg, Some(1));
    assert!(s.duplicate_tickets > 0, "{:#?}", s.findings);
}

#[test]
fn the_small_scenario_finds_every_kind_of_fault() {
    let s = run(&shipped("small"), None);
    for kind in [
        "dies",
        "disconnects",
        "uplink_down",
        "disk_fills",
        "battery_drains",
        "flapping",
        "overheats",
        "check_fails",
    ] {
        let f = &s.by_fault[kind];
        assert!(f.problems > 0 && f.missed == 0, "{kind}: {f:?}");
    }
    assert_eq!((s.missed, s.false_tickets), (0, 0), "{:#?}", s.findings);
    assert_eq!(s.before_customer, s.customer_reports);
    assert!(s.closed > 0, "engineers repaired and the hub verified");
    assert!(
        s.trend_lead_h.n == 2 && s.trend_lead_h.p50 > 0.0,
        "preventive tickets opened before the failure"
    );
}

#[test]
fn a_flapping_link_keeps_its_ticket_while_it_flaps() {
    let s = run(&shipped("small"), None);
    assert_eq!(s.by_fault["flapping"].detected, 1);
    // A device that flaps misses a report while its link is down, so it has two faults of the
    // same root cause (Offline from the will, Silent from the missed deadline) on one ticket;
    // the ticket stays open while either holds (fixed in `recovered`).
    assert_eq!(s.finished_early, 0, "{:#?}", s.findings);
}

#[test]
fn a_hundredth_of_the_city_runs_a_day() {
    let mut city = shipped("city").scaled(0.01);
    city.duration = 24 * 3_600_000;
    let s = run(&city, None);
    assert!(s.devices > 900, "{}", s.devices);
    assert_eq!((s.missed, s.false_tickets), (0, 0), "{:#?}", s.findings);
}

/// Everything but the wall-clock measurements.
fn outcome(s: &Score) -> String {
    let mut v = serde_json::to_value(s).unwrap();
    for k in ["stats", "inputs_per_s", "cpu_s", "peak_rss_mib"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v["inputs"] = s.stats.inputs.into();
    v.to_string()
}

#[test]
fn the_same_seed_gives_the_same_result_and_another_seed_another() {
    let small = shipped("small");
    let a = outcome(&run(&small, Some(5)));
    assert_eq!(a, outcome(&run(&small, Some(5))));
    assert_ne!(a, outcome(&run(&small, Some(6))));
}

/// `(scenario text, line, words in the message)`: each broken file names its line, and `check`
/// finds every mistake that `run` would.
fn broken(src: &str, line: usize, words: &str) {
    let e = match Scenario::parse(Path::new("broken.toml"), src) {
        Err(e) => e,
        Ok(s) => {
            let checked = heartline_sim::check(&s, None).err();
            let ran = run_and_score(&s, &Options::default()).err();
            match (checked, ran) {
                (Some(c), Some(r)) => {
                    assert_eq!(c.to_string(), r.to_string(), "check and run agree");
                    r
                }
                (c, r) => panic!("check says {c:?}, run says {r:?}: {src}"),
            }
        }
    };
    assert_eq!(e.line, line, "{e}");
    assert!(e.message.contains(words), "{e}");
}

const FLEET: &str = r#"name = "t"
duration = "1h"
[[rule]]
name = "hot"
metric = "temperature_c"
above = 70.0
severity = "major"
[[tenant]]
id = "a"
[[project]]
id = "p"
tenant = "a"
[[sites]]
project = "p"
prefix = "s"
count = 2
devices = [{ kind = "cam", count = 2, every = "1m", metrics = { temperature_c = 40.0 } }]
"#;

#[test]
fn a_broken_scenario_reports_its_line() {
    broken(
        &format!("{FLEET}[[fault]]\nkind = \"explodes\"\nat = \"1m\"\n"),
        19,
        "unknown fault kind \"explodes\"",
    );
    broken(
        &format!("{FLEET}[[fault]]\nkind = \"dies\"\nat = \"soon\"\n"),
        20,
        "not a duration",
    );
    broken(
        &format!("{FLEET}[[fault]]\nkind = \"overheats\"\nvalue = 60.0\nat = \"1m\"\n"),
        19,
        "no [[rule]] on \"temperature_c\" is crossed by 60",
    );
    broken(
        &format!("{FLEET}[[fault]]\nkind = \"dies\"\nat = \"1m\"\ncount = 5\n"),
        21,
        "5 dies fault(s) asked for, but only 4 free devices fit",
    );
    broken(
        &FLEET.replace("project = \"p\"\nprefix", "project = \"q\"\nprefix"),
        14,
        "unknown project \"q\"",
    );
    broken(
        &FLEET.replace("count = 2\ndevices", "count = 2\ncolour = \"red\"\ndevices"),
        17,
        "unknown field `colour`",
    );
    broken(
        &FLEET.replace("every = \"1m\"", "every = \"1500ms\""),
        17,
        "whole seconds",
    );
    broken(
        &format!("{FLEET}[[fault]]\nkind = \"dies\"\nat = \"1m\"\nwith_devices = 1\n"),
        21,
        "`with_devices` is for uplink_down faults",
    );
    broken(
        &format!("{FLEET}branches = [{{ gateway = {{ kind = \"sw\", every = \"5m\" }} }}]\n"),
        15,
        "`branches` sit behind the site's gateway",
    );
    broken(
        &format!("{FLEET}[[fault]]\nkind = \"uplink_down\"\nat = \"1m\"\n"),
        19,
        "1 uplink_down fault(s) asked for, but only 0 free devices fit",
    );
}

#[test]
fn user_facing_errors_print_without_a_backtrace() {
    let dir = std::env::temp_dir().join(format!("heartline-sim-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.toml");
    std::fs::write(
        &path,
        format!("{FLEET}[[fault]]\nkind = \"dies\"\nat = \"1m\"\ncount = 5\n"),
    )
    .unwrap();
    for command in ["check", "run"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_heartline-sim"))
            .args([command, "--scenario"])
            .arg(&path)
            .env("RUST_BACKTRACE", "full")
            .env("RUST_LIB_BACKTRACE", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command} accepted it");
        assert!(
            err.contains("broken.toml:21:") && err.contains("only 4 free devices fit"),
            "{command}: {err}"
        );
        assert!(
            !err.contains("Stack backtrace") && !err.contains("stack backtrace"),
            "{command}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
