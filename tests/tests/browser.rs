//! The project view in a real headless Chromium (driven over WebDriver by chromedriver): the
//! customer logs in and watches the project turn red within a second of a device fault, sees the
//! ticket and its engineer; the engineer logs in and accepts, goes on site and resolves; the
//! device's own reports close the ticket; the customer rates it; the operator opens the KPI
//! board. Every page is saved as a PNG under `target/screenshots/`.
//!
//! Needs `chromium` and `chromedriver` on PATH (`tests/run-all` installs them).

use fantoccini::{Client, ClientBuilder, Locator};
use heartline_e2e::{Device, Fleet, Protocol, TestHub, eventually, free_port, ids};
use heartline_engine::TicketState;
use heartline_hub::store::Scope;
use heartline_proto::wire;
use std::time::{Duration, Instant};

fn shots() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// chromedriver on a free port, killed on drop.
struct Driver(std::process::Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn driver() -> Driver {
    let port = free_port();
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver is not installed: run tests/run-all, which installs chromium-driver");
    let d = Driver(child, port);
    eventually("chromedriver listens", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await
    .unwrap();
    d
}

async fn browser(d: &Driver, width: u32, height: u32) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--window-size={width},{height}")]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", d.1))
        .await
        .expect("starting headless chromium")
}

async fn login(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/#/")).await.unwrap();
    let form = c
        .wait()
        .for_element(Locator::Css("#login-user"))
        .await
        .unwrap();
    form.send_keys(user).await.unwrap();
    c.find(Locator::Css("#login-password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    c.find(Locator::Css("#login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("#logout:not([hidden])"))
        .await
        .unwrap();
}

async fn logout(c: &Client) {
    c.find(Locator::Css("#logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("#login-form"))
        .await
        .unwrap();
}

/// Clicks the element `css` selects. Live updates re-render the page at any moment, so an
/// element found a moment ago may be gone ("stale"): then it is looked up again.
async fn click(c: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match found.click().await {
            Ok(()) => return,
            Err(e) if stale(&e) && Instant::now() < deadline => continue,
            Err(e) => panic!("clicking {css}: {e}"),
        }
    }
}

/// The text of the element `css` selects, looked up again if a re-render replaced it.
async fn text(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match found.text().await {
            Ok(t) => return t,
            Err(e) if stale(&e) && Instant::now() < deadline => continue,
            Err(e) => panic!("reading {css}: {e}"),
        }
    }
}

/// Types into the element `css` selects, looked up again if a re-render replaced it.
async fn type_into(c: &Client, css: &str, keys: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match found.send_keys(keys).await {
            Ok(()) => return,
            Err(e) if stale(&e) && Instant::now() < deadline => continue,
            Err(e) => panic!("typing into {css}: {e}"),
        }
    }
}

fn stale(e: &fantoccini::error::CmdError) -> bool {
    e.to_string().contains("stale element")
}

async fn send(dev: &mut Device, seq: u64, crit: bool) {
    let mut r = dev.report(seq);
    if crit {
        r.checks[0].status = wire::CheckStatus::Crit as i32;
    }
    r.next_checkin_s = 3600;
    dev.send(&r).await.unwrap();
    dev.wait_ack(1, seq).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_engineer_and_operator_in_a_real_browser() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 3)), ("globex", ids("globex", 1))]);
    fleet.with_engineers("acme", 1);
    let alice = fleet.with_user("alice", "customer", "acme");
    let li = fleet.with_user("li", "engineer", "eng-0");
    let ops = fleet.with_user("ops", "operator", "");
    let th = TestHub::start_with(&fleet, |c| {
        c.detection.recovery_confirm = 300;
        c.detection.verify = 500;
        c.detection.check_crit_severity = heartline_proto::Severity::Critical;
    })
    .await
    .unwrap();
    let base = format!("http://{}", th.hub.http);
    let mut devs = Vec::new();
    for id in ["acme-0", "acme-1", "acme-2"] {
        let mut d = Device::connect(th.hub.mqtt_v4, fleet.device(id), Protocol::V4)
            .await
            .unwrap();
        send(&mut d, 1, false).await;
        devs.push(d);
    }
    let d = driver().await;
    let c = browser(&d, 1280, 900).await;

    // The customer's projects, all green.
    login(&c, &base, "alice", &alice).await;
    c.wait()
        .for_element(Locator::Css(
            ".project-card[data-project='acme-p'][data-health='ok']",
        ))
        .await
        .unwrap();
    assert!(
        c.find(Locator::Css(".project-card[data-project='globex-p']"))
            .await
            .is_err(),
        "another tenant's project is not shown"
    );
    shot(&c, "1-customer-projects-ok").await;

    // A device fault: the card turns red by itself (live push), within a second.
    send(&mut devs[0], 2, true).await;
    let faulted = Instant::now();
    c.wait()
        .at_most(Duration::from_secs(1))
        .every(Duration::from_millis(20))
        .for_element(Locator::Css(
            ".project-card[data-project='acme-p'][data-health='down']",
        ))
        .await
        .expect("the project did not turn red within a second of the fault");
    println!(
        "project red {:?} after the fault was acknowledged",
        faulted.elapsed()
    );
    shot(&c, "2-customer-projects-red").await;

    // The project page: the ticket and its engineer.
    click(&c, ".project-card[data-project='acme-p']").await;
    let engineer = text(&c, "tr.ticket td.engineer").await;
    assert_eq!(engineer, "eng-0");
    c.wait()
        .for_element(Locator::Css("tr.device[data-device='acme-0'][data-status='warning'], tr.device[data-device='acme-0'][data-status='down']"))
        .await
        .unwrap();
    shot(&c, "3-customer-project").await;
    click(&c, "tr.ticket").await;
    c.wait()
        .for_element(Locator::Css("ol.timeline li"))
        .await
        .unwrap();
    shot(&c, "4-customer-ticket").await;
    let ticket = th
        .hub
        .store()
        .tickets(&Scope::Operator)
        .unwrap()
        .into_iter()
        .find(|t| t.device == "acme-0")
        .unwrap()
        .id;
    logout(&c).await;

    // The engineer: queue, accept, on site, resolved.
    login(&c, &base, "li", &li).await;
    c.wait()
        .for_element(Locator::Css("tr.assignment[data-state='dispatched']"))
        .await
        .unwrap();
    shot(&c, "5-engineer-queue").await;
    click(&c, "tr.assignment .btn-accept").await;
    click(&c, "tr.assignment[data-state='accepted'] .btn-onsite").await;
    click(&c, "tr.assignment[data-state='on site'] .btn-resolve").await;
    c.send_alert_text("replaced the PoE injector")
        .await
        .unwrap();
    c.accept_alert().await.unwrap();
    c.wait()
        .for_element(Locator::Css(
            "tr.assignment[data-state='resolved, awaiting verification']",
        ))
        .await
        .unwrap();
    shot(&c, "6-engineer-resolved").await;
    logout(&c).await;

    // The device's own health closes it.
    send(&mut devs[0], 3, false).await;
    eventually("closed after verification", || {
        th.hub
            .store()
            .ticket(&Scope::Operator, ticket)
            .unwrap()
            .is_some_and(|t| t.state == TicketState::Closed)
    })
    .await
    .unwrap();

    // The customer rates the closed ticket.
    login(&c, &base, "alice", &alice).await;
    c.goto(&format!("{base}/#/ticket/{ticket}")).await.unwrap();
    c.wait()
        .for_element(Locator::Css("#rate-form"))
        .await
        .unwrap();
    type_into(&c, "#rate-comment", "quick and clean").await;
    click(&c, "#rate-submit").await;
    let rating = text(&c, "#rating").await;
    assert!(rating.contains("Rated 5/5"), "{rating}");
    shot(&c, "7-customer-rated").await;
    logout(&c).await;

    // The operator's board.
    login(&c, &base, "ops", &ops).await;
    c.goto(&format!("{base}/#/operator")).await.unwrap();
    c.wait().for_element(Locator::Css("#kpis")).await.unwrap();
    c.wait()
        .for_element(Locator::Css(".project-card[data-project='globex-p']"))
        .await
        .unwrap();
    shot(&c, "8-operator-board").await;
    c.close().await.unwrap();

    // On a phone.
    let phone = browser(&d, 390, 844).await;
    login(&phone, &base, "alice", &alice).await;
    phone
        .wait()
        .for_element(Locator::Css(".project-card"))
        .await
        .unwrap();
    shot(&phone, "9-phone-projects").await;
    phone.close().await.unwrap();
    th.hub.shutdown().await.unwrap();
}
