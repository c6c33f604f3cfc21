//! Soak: the hub and a fleet in separate processes for `SOAK_MIN` minutes at an accelerated
//! report rate (a signed report every `REPORT_S` from each of `DEVICES` devices; one device in a
//! hundred falls silent for `SILENT_FOR_S` every `SILENT_EVERY_S`, so tickets open and close).
//! Every `SAMPLE_S` it samples the hub's RSS, open files and store size; at the end the fleet
//! stops reporting and every report sent must be committed and acknowledged.
//!
//! Verdict: after the first 10 minutes the hub's RSS stays within ±10 % of its value at 10
//! minutes, its open files do not grow, and nothing is lost. Writes a table and a plot
//! (`docs/soak.png`, or `SOAK_PNG`). Run by `tests/side-by-side/soak.sh`.

use heartline_e2e::bench::{emit_markdown, env_or, rss_kib, spawn_hub};
use heartline_e2e::fleetgen::{self, PREFIX, TENANT, spawn_loadgen, total, wait_for};
use heartline_e2e::{Fleet, ids, scrape};
use plotters::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

const HUB: &str = env!("CARGO_BIN_EXE_hub");
/// The plot's text: DejaVu Sans from Debian's fonts-dejavu-core (soak.sh installs it).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// One sample of the run.
#[derive(Clone, Copy)]
struct Sample {
    minute: f64,
    hub_rss_mib: f64,
    fleet_rss_mib: f64,
    open_files: u64,
    store_mib: f64,
    committed: f64,
    tickets: f64,
}

fn main() {
    if fleetgen::is_loadgen() {
        fleetgen::loadgen();
        return;
    }
    let minutes = env_or("SOAK_MIN", 30);
    let devices = env_or("DEVICES", 2_000) as usize;
    let report_s = env_or("REPORT_S", 5);
    let sample_s = env_or("SAMPLE_S", 60);
    let history_len = env_or("HISTORY_LEN", 100);
    let png = std::env::var("SOAK_PNG").unwrap_or_else(|_| "docs/soak.png".into());
    println!(
        "soak: {devices} devices, a report every {report_s} s each, {minutes} min, a sample every \
         {sample_s} s; the hub keeps {history_len} reports per device"
    );

    let fleet = Fleet::new(&[(TENANT, ids(PREFIX, devices))]);
    let (dir, hub) = spawn_hub(
        HUB,
        &fleet,
        &format!("[store]\nhistory_len = {history_len}\n"),
    );
    let pid = hub.child.id();
    let store = dir.path().join("store.redb");
    let lg = [spawn_loadgen(
        0,
        devices,
        &hub.v4.to_string(),
        &[
            ("REPORT_S", report_s),
            ("KEEPALIVE_S", env_or("KEEPALIVE_S", 60)),
            ("SILENT_EVERY_S", env_or("SILENT_EVERY_S", 600)),
            ("SILENT_FOR_S", env_or("SILENT_FOR_S", 120)),
        ],
    )];
    let t0 = Instant::now();
    assert!(
        wait_for(&lg, Duration::from_secs(300), |t| t.connected as usize
            >= devices),
        "the fleet did not connect: {} of {devices} devices after 300 s",
        total(&lg).connected
    );
    println!(
        "  {devices} devices connected after {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let mut samples = Vec::new();
    let start = Instant::now();
    let end = start + Duration::from_secs(minutes * 60);
    let lg_pid = lg[0].child.id();
    loop {
        let s = Sample {
            minute: start.elapsed().as_secs_f64() / 60.0,
            hub_rss_mib: rss_kib(pid) as f64 / 1024.0,
            fleet_rss_mib: rss_kib(lg_pid) as f64 / 1024.0,
            open_files: open_files(pid),
            store_mib: std::fs::metadata(&store).map_or(0, |m| m.len()) as f64 / 1_048_576.0,
            committed: scrape(hub.http, "heartline_ingest_reports_committed_total"),
            tickets: scrape(hub.http, "heartline_engine_tickets_opened_total"),
        };
        let t = total(&lg);
        println!(
            "  {:5.1} min: hub RSS {:.0} MiB, {} open files, store {:.0} MiB, {} committed, {} \
             tickets opened; fleet RSS {:.0} MiB, {} connected, {} sent / {} acked",
            s.minute,
            s.hub_rss_mib,
            s.open_files,
            s.store_mib,
            s.committed,
            s.tickets,
            s.fleet_rss_mib,
            t.connected,
            t.sent,
            t.acked
        );
        samples.push(s);
        if Instant::now() >= end {
            break;
        }
        std::thread::sleep(Duration::from_secs(sample_s).min(end - Instant::now()));
    }

    // Stop reporting; everything sent must be acknowledged.
    let (fin, drained) = fleetgen::stop_and_drain(&lg, Duration::from_secs(180));
    let committed = scrape(hub.http, "heartline_ingest_reports_committed_total") as u64;
    // Counted before the stop: a fleet that stops reporting is a fleet falling silent.
    let tickets = samples.last().map_or(0.0, |s| s.tickets) as u64;

    let verdict = judge(&samples);
    let lost = fin.sent.saturating_sub(committed);
    let pass = verdict.is_ok() && drained && lost == 0;
    let why = verdict.err().unwrap_or_default();
    println!(
        "  sent {}, acknowledged {}, committed {committed} (lost {lost}), tickets {tickets}: {}{why}",
        fin.sent,
        fin.acked,
        if pass { "PASS" } else { "FAIL " },
    );
    plot(&samples, Path::new(&png)).unwrap_or_else(|e| panic!("plotting {png}: {e}"));
    emit_markdown(&markdown(
        &samples,
        devices,
        report_s,
        history_len,
        (fin.sent, committed, tickets),
        &png,
        pass,
    ));
    drop(lg);
    hub.stop();
    drop(dir);
    if !pass {
        std::process::exit(1);
    }
}

/// The acceptance: RSS within ±10 % of the 10-minute value, and open files no higher than then,
/// for every later sample. A run shorter than 10 minutes judges from its first sample.
fn judge(samples: &[Sample]) -> Result<(), String> {
    let base = samples
        .iter()
        .find(|s| s.minute >= 10.0 - 0.01)
        .or(samples.first())
        .copied()
        .ok_or("no samples")?;
    for s in samples.iter().filter(|s| s.minute > base.minute) {
        let ratio = s.hub_rss_mib / base.hub_rss_mib;
        if !(0.9..=1.1).contains(&ratio) {
            return Err(format!(
                ": hub RSS {:.0} MiB at {:.0} min is {:.2}× the {:.0} MiB at {:.0} min",
                s.hub_rss_mib, s.minute, ratio, base.hub_rss_mib, base.minute
            ));
        }
        // A few descriptors come and go (a connection being replaced, the metrics scrape).
        if s.open_files > base.open_files + 16 {
            return Err(format!(
                ": {} open files at {:.0} min, {} at {:.0} min",
                s.open_files, s.minute, base.open_files, base.minute
            ));
        }
    }
    Ok(())
}

fn open_files(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

fn markdown(
    samples: &[Sample],
    devices: usize,
    report_s: u64,
    history_len: u64,
    (sent, committed, tickets): (u64, u64, u64),
    png: &str,
    pass: bool,
) -> String {
    let mut md = format!(
        "{devices} devices, a signed report every {report_s} s each ({:.0} reports/s), one in a \
         hundred silent now and then; the hub keeps {history_len} reports per device.\n\n\
         ![hub RSS and store size over the soak]({})\n\n\
         | minute | hub RSS | hub open files | store file | reports committed | tickets opened | fleet RSS |\n\
         |---|---|---|---|---|---|---|\n",
        devices as f64 / report_s as f64,
        Path::new(png)
            .file_name()
            .map_or(png.into(), |f| format!("docs/{}", f.to_string_lossy())),
    );
    // At most about 30 rows: a long soak shows every n-th sample and the last.
    let every = samples.len().div_ceil(30).max(1);
    for (i, s) in samples.iter().enumerate() {
        if i % every == 0 || i + 1 == samples.len() {
            md.push_str(&format!(
                "| {:.1} | {:.0} MiB | {} | {:.0} MiB | {:.0} | {:.0} | {:.0} MiB |\n",
                s.minute,
                s.hub_rss_mib,
                s.open_files,
                s.store_mib,
                s.committed,
                s.tickets,
                s.fleet_rss_mib
            ));
        }
    }
    md.push_str(&format!(
        "\nReports sent {sent}, committed {committed}, tickets opened {tickets}. Verdict (RSS \
         within ±10 % of its 10-minute value, open files not growing, nothing lost): **{}**.\n",
        if pass { "pass" } else { "fail" }
    ));
    md
}

/// Hub RSS and store size against minutes, one PNG.
fn plot(samples: &[Sample], png: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let font: &'static [u8] = Box::leak(
        std::fs::read(FONT)
            .map_err(|e| format!("{FONT}: {e} (apt-get install fonts-dejavu-core)"))?
            .into_boxed_slice(),
    );
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| format!("{FONT} is not a font plotters can read"))?;
    let minutes = samples.last().map_or(1.0, |s| s.minute).max(1.0);
    let top = samples
        .iter()
        .map(|s| s.hub_rss_mib.max(s.store_mib))
        .fold(1.0, f64::max)
        * 1.15;
    let root = BitMapBackend::new(png, (960, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Heartline soak: hub memory and store size",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..minutes, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("minutes")
        .y_desc("MiB")
        .label_style(("sans-serif", 14))
        .draw()?;
    let series = [
        (
            "hub RSS",
            RED,
            samples
                .iter()
                .map(|s| (s.minute, s.hub_rss_mib))
                .collect::<Vec<_>>(),
        ),
        (
            "store file",
            BLUE,
            samples.iter().map(|s| (s.minute, s.store_mib)).collect(),
        ),
        (
            "fleet RSS",
            GREEN,
            samples
                .iter()
                .map(|s| (s.minute, s.fleet_rss_mib))
                .collect(),
        ),
    ];
    for (name, colour, points) in series {
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
