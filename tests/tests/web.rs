//! The project view's API through the running hub: login and sessions (cookie flags, wrong
//! password, login rate limit), what a customer sees of their projects, a fault turning the
//! project red on the live event stream, catching up with Last-Event-ID after a reconnect, the
//! engineer acting from the web API, the customer rating the closed ticket and reporting a
//! problem, and the operator's KPI board and CSV.

use heartline_e2e::{Device, Fleet, Protocol, SseClient, TestHub, WebClient, eventually, ids};
use serde_json::json;
use std::time::Duration;

struct Setup {
    th: TestHub,
    fleet: Fleet,
    customer: String,
    engineer: String,
    operator: String,
}

async fn setup() -> Setup {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 2)), ("globex", ids("globex", 1))]);
    fleet.with_engineers("acme", 1);
    let customer = fleet.with_user("alice", "customer", "acme");
    let engineer = fleet.with_user("li", "engineer", "eng-0");
    let operator = fleet.with_user("ops", "operator", "");
    fleet.with_user("gina", "customer", "globex");
    let th = TestHub::start_with(&fleet, |c| {
        c.detection.recovery_confirm = 300;
        c.detection.verify = 500;
        // The camera stream failing is critical here: the project turns red.
        c.detection.check_crit_severity = heartline_proto::Severity::Critical;
    })
    .await
    .unwrap();
    Setup {
        th,
        fleet,
        customer,
        engineer,
        operator,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_strict_cookie_and_refuses_guessing() {
    let s = setup().await;
    let mut web = WebClient::new(s.th.hub.http);
    let (status, body) = web.get("/api/v1/projects").await;
    assert_eq!(status, 401, "{body}");
    // In Chinese without an Accept-Language, as every API error.
    assert!(
        body["error"].as_str().unwrap().contains("请先登录"),
        "{body}"
    );

    let (status, _) = web.login("alice", "wrong password").await;
    assert_eq!(status, 401);
    let (status, cookie) = web.login("alice", &s.customer).await;
    assert_eq!(status, 200);
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let (status, me) = web.get("/api/v1/me").await;
    assert_eq!((status, me["role"].as_str()), (200, Some("customer")));

    // Guessing: after 5 failures within a minute even the right password is refused for now.
    let mut guesser = WebClient::new(s.th.hub.http);
    for _ in 0..5 {
        assert_eq!(guesser.login("ops", "guess").await.0, 401);
    }
    assert_eq!(guesser.login("ops", &s.operator).await.0, 429);
    // Names nobody has are not locked into the trail; five guesses at one are.
    for _ in 0..5 {
        assert_eq!(guesser.login("nobody", "guess").await.0, 401);
    }

    // The login and the lock-out are in the audit trail, with who and when; the guesses at an
    // unknown name are not, and the chain holds.
    let trail =
        s.th.hub
            .store()
            .audit_trail(&heartline_hub::store::Scope::Operator, 0, 10_000)
            .unwrap();
    let people: Vec<(String, String, String)> = trail
        .iter()
        .filter(|r| r.object.starts_with("user/"))
        .map(|r| (r.who.clone(), r.what.clone(), r.object.clone()))
        .collect();
    assert_eq!(
        people,
        [
            (
                "customer:alice".into(),
                "logged in".into(),
                "user/alice".into()
            ),
            (
                "operator:ops".into(),
                "login locked for a minute after 5 failed attempts".into(),
                "user/ops".into()
            ),
        ],
        "{people:#?}"
    );
    assert!(matches!(
        s.th.hub.store().verify_audit().unwrap(),
        heartline_hub::audit::Verdict::Intact { .. }
    ));

    // Logging out ends the session.
    let (status, _) = web.post("/logout", json!({})).await;
    assert_eq!(status, 204);
    let mut stale = web.clone();
    stale.cookie = web.cookie.clone();
    assert_eq!(stale.get("/api/v1/me").await.0, 401);
    s.th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_turns_the_project_red_live_and_the_loop_closes_with_a_rating() {
    let s = setup().await;
    let http = s.th.hub.http;
    let mut alice = WebClient::new(http);
    alice.login("alice", &s.customer).await;
    let mut dev = Device::connect(s.th.hub.mqtt_v4, s.fleet.device("acme-0"), Protocol::V4)
        .await
        .unwrap();
    dev.check_in(1, false).await;

    let (status, projects) = alice.get("/api/v1/projects").await;
    assert_eq!(status, 200);
    let list = projects.as_array().unwrap();
    assert_eq!(list.len(), 1, "alice sees acme's project only: {projects}");
    assert_eq!(list[0]["project_id"], "acme-p");
    let (_, p) = alice.get("/api/v1/projects/acme-p").await;
    assert_eq!(p["summary"]["health"], "ok", "{p}");

    // Live: the page's event stream hears of the fault within a second of the report.
    let cookie = alice.cookie.clone().unwrap();
    let mut events = SseClient::connect(http, "/api/v1/events", &[("Cookie", &cookie)])
        .await
        .unwrap();
    let sent = std::time::Instant::now();
    dev.check_in(2, true).await;
    let mut last_id;
    loop {
        let ev = events.next(Duration::from_secs(1)).await.unwrap();
        assert_eq!(ev.event, "change");
        last_id = ev.id.clone();
        let (_, p) = alice.get("/api/v1/projects/acme-p").await;
        if p["summary"]["health"] == "down" {
            assert!(
                sent.elapsed() < Duration::from_secs(1),
                "{:?}",
                sent.elapsed()
            );
            break;
        }
    }
    let (_, p) = alice.get("/api/v1/projects/acme-p").await;
    let ticket = &p["tickets"][0];
    assert_eq!(ticket["engineer_id"], "eng-0");
    let id = ticket["ticket_id"].as_u64().unwrap();

    // The engineer works it from the web API.
    let mut li = WebClient::new(http);
    li.login("li", &s.engineer).await;
    let (status, queue) = li.get("/api/v1/tickets?open=true").await;
    assert_eq!(status, 200);
    assert_eq!(queue[0]["ticket_id"].as_u64(), Some(id));
    assert_eq!(
        li.post(&format!("/api/v1/tickets/{id}/accept"), json!({}))
            .await
            .0,
        200
    );
    let (status, err) = li
        .post(&format!("/api/v1/tickets/{id}/accept"), json!({}))
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(
        li.post(&format!("/api/v1/tickets/{id}/onsite"), json!({}))
            .await
            .0,
        200
    );
    let (status, t) = li
        .post(
            &format!("/api/v1/tickets/{id}/resolve"),
            json!({"text": "replaced the cable"}),
        )
        .await;
    assert_eq!(
        (status, t["state"].as_str()),
        (200, Some("resolved, awaiting verification"))
    );

    // A page that reconnects with Last-Event-ID gets what it missed, in order.
    drop(events);
    dev.check_in(3, false).await;
    eventually("closed after verification", || {
        s.th.hub
            .store()
            .ticket(&heartline_hub::store::Scope::Operator, id)
            .unwrap()
            .is_some_and(|t| t.state == heartline_engine::TicketState::Closed)
    })
    .await
    .unwrap();
    let mut events = SseClient::connect(
        http,
        "/api/v1/events",
        &[("Cookie", &cookie), ("Last-Event-ID", &last_id)],
    )
    .await
    .unwrap();
    let first = events.next(Duration::from_secs(2)).await.unwrap();
    assert_eq!(
        first.id.parse::<u64>().unwrap(),
        last_id.parse::<u64>().unwrap() + 1,
        "the catch-up starts right after the last event seen"
    );

    // The customer rates the closed ticket; a second customer of another tenant cannot see it.
    let (status, t) = alice
        .post(
            &format!("/api/v1/tickets/{id}/rate"),
            json!({"stars": 5, "comment": "fast"}),
        )
        .await;
    assert_eq!(
        (status, t["rating"]["stars"].as_u64()),
        (200, Some(5)),
        "{t}"
    );
    let (status, refused) = alice
        .post(&format!("/api/v1/tickets/{id}/rate"), json!({"stars": 9}))
        .await;
    assert_eq!(status, 409);
    // The refusal in the reader's language: Chinese by default, English when asked.
    assert_eq!(
        refused["error"],
        format!("无法对工单 {id} 执行“评价”：工单已关闭；评分为 1 到 5 星"),
        "{refused}"
    );
    alice.language = Some("en".into());
    let (_, refused) = alice
        .post(&format!("/api/v1/tickets/{id}/rate"), json!({"stars": 9}))
        .await;
    assert_eq!(
        refused["error"],
        format!("cannot rate ticket {id}: it is closed; a rating is 1 to 5 stars"),
        "{refused}"
    );
    // The timeline in English, as it always read, and in Chinese.
    let (_, t) = alice.get(&format!("/api/v1/tickets/{id}")).await;
    let whats: Vec<&str> = t["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert!(whats.contains(&"rated 5/5: fast"), "{whats:?}");
    alice.language = None;
    let (_, t) = alice.get(&format!("/api/v1/tickets/{id}")).await;
    let last = t["timeline"].as_array().unwrap().last().unwrap();
    assert_eq!(last["what"], "评价 5/5：fast", "{last}");
    assert_eq!(last["actor_label"], "客户");

    // The customer reports a problem on the other device: a ticket the hub had not opened.
    let (status, t) = alice
        .post(
            "/api/v1/projects/acme-p/report",
            json!({"device": "acme-1", "text": "camera shows black"}),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    // The report is classified (what staff see next to it); the customer sees no classification.
    assert_eq!(t["classification"]["class"], "camera_video", "{t}");
    assert_eq!(t["classification"]["label"], "摄像头/视频", "{t}");
    let reported = t["ticket_id"].clone();
    let customer_view = t["timeline"].as_array().unwrap().clone();
    assert!(
        customer_view.iter().all(|e| e["classified"].is_null()),
        "{t}"
    );
    // Without Accept-Language the hub answers in Chinese; with it, in English.
    assert!(
        t["title"].as_str().unwrap().contains("客户报告的问题"),
        "{t}"
    );
    alice.language = Some("en-US,en;q=0.9".into());
    let (_, t) = alice
        .get(&format!("/api/v1/tickets/{}", t["ticket_id"]))
        .await;
    assert!(
        t["title"]
            .as_str()
            .unwrap()
            .contains("reported by the customer"),
        "{t}"
    );
    assert_eq!(t["state_label"], t["state"], "English labels are the codes");
    alice.language = None;

    // The operator's board counts both: one detected first, one reported first.
    let mut ops = WebClient::new(http);
    ops.login("ops", &s.operator).await;
    let (_, staff_view) = ops.get(&format!("/api/v1/tickets/{reported}")).await;
    let classified: Vec<&str> = staff_view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["classified"].as_str())
        .collect();
    assert_eq!(
        classified,
        vec!["分类：摄像头/视频（依据词语：camera）"],
        "{staff_view}"
    );
    let (status, kpi) = ops.get("/api/v1/kpi?period=day").await;
    assert_eq!(status, 200);
    let today = &kpi[0];
    assert_eq!(today["tickets"], 2, "{kpi}");
    assert_eq!(today["detected_first"], 0.5, "{kpi}");
    assert_eq!(today["rating"], 5.0, "{kpi}");
    assert_eq!(today["sla_compliance"], 1.0, "{kpi}");
    let (status, csv) = ops.get("/api/v1/kpi.csv?period=week").await;
    assert_eq!(status, 200);
    assert!(
        csv.as_str().unwrap().starts_with("period,tickets,mttd_s"),
        "{csv}"
    );
    // Customers get no KPI board.
    assert_eq!(alice.get("/api/v1/kpi").await.0, 404);
    s.th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_finds_its_device_in_the_text_of_the_customers_own_tenant_only() {
    let s = setup().await;
    let http = s.th.hub.http;
    let mut alice = WebClient::new(http);
    assert_eq!(alice.login("alice", &s.customer).await.0, 200);

    // No device chosen: the text names acme-1, in Chinese.
    let (status, t) = alice
        .post(
            "/api/v1/projects/acme-p/report",
            json!({"text": "acme-1 的读数一直是零"}),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["device_id"], "acme-1", "{t}");
    assert_eq!(t["matched"]["device"], "acme-1", "{t}");
    assert_eq!(t["matched"]["reason"], "关联：描述中提到设备 acme-1", "{t}");
    let id = t["ticket_id"].clone();
    // Staff read the reason in their language beside the report; the customer's view of the
    // ticket does not carry it.
    let mut ops = WebClient::new(http);
    ops.login("ops", &s.operator).await;
    ops.language = Some("en".into());
    let (_, staff_view) = ops.get(&format!("/api/v1/tickets/{id}")).await;
    let matched: Vec<&str> = staff_view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["matched"].as_str())
        .collect();
    assert_eq!(
        matched,
        vec!["matched: the text names device acme-1"],
        "{staff_view}"
    );
    let (_, own_view) = alice.get(&format!("/api/v1/tickets/{id}")).await;
    assert!(
        own_view["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["matched"].is_null()),
        "{own_view}"
    );

    // Another tenant's device named in the text: not found in acme's project (nothing else
    // fits either), so the customer is asked to choose; globex gets no ticket.
    alice.language = Some("en".into());
    let (status, t) = alice
        .post(
            "/api/v1/projects/acme-p/report",
            json!({"text": "globex-0 has no video signal"}),
        )
        .await;
    assert_eq!(status, 422, "{t}");
    assert!(
        t.to_string().contains("Which device is it?"),
        "a clear error: {t}"
    );
    // Chosen explicitly: another tenant's device is not there at all.
    let (status, _) = alice
        .post(
            "/api/v1/projects/acme-p/report",
            json!({"device": "globex-0", "text": "no video"}),
        )
        .await;
    assert_eq!(status, 404);
    let globex_tickets =
        s.th.hub
            .store()
            .tickets(&heartline_hub::store::Scope::Tenant("globex".into()))
            .unwrap();
    assert!(globex_tickets.is_empty(), "{globex_tickets:?}");
    s.th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_api_pages_its_devices_with_problems_first() {
    let s = setup().await;
    let mut alice = WebClient::new(s.th.hub.http);
    assert_eq!(alice.login("alice", &s.customer).await.0, 200);
    let page = |n: &str| format!("/api/v1/projects/acme-p?page={n}&per_page=1");
    // acme-1 fails; acme-0 never reported (unknown): acme-1 comes first.
    let mut dev = Device::connect(s.th.hub.mqtt_v4, s.fleet.device("acme-1"), Protocol::V4)
        .await
        .unwrap();
    dev.check_in(1, true).await;
    let deadline = tokio::time::Instant::now() + heartline_e2e::PATIENCE;
    let first = loop {
        let (status, p) = alice.get(&page("1")).await;
        assert_eq!(status, 200, "{p}");
        if p["devices"][0]["device_id"] == "acme-1" {
            break p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "acme-1 never first: {p}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(first["devices"].as_array().unwrap().len(), 1, "{first}");
    let meta = &first["device_page"];
    assert_eq!(meta["page"], 1);
    assert_eq!(meta["pages"], 2);
    assert_eq!(meta["total"], 2);
    assert_eq!(meta["ids"], json!(["acme-1", "acme-0"]));
    // The last page, and a page past it (the last one again).
    for n in ["2", "99"] {
        let (_, p) = alice.get(&page(n)).await;
        assert_eq!(p["devices"][0]["device_id"], "acme-0", "{p}");
        assert_eq!(p["device_page"]["page"], 2, "{p}");
    }
    // Another tenant's site filters to nothing; without `page`, every device as before.
    let (_, p) = alice
        .get("/api/v1/projects/acme-p?page=1&site=globex-s")
        .await;
    assert_eq!(p["device_page"]["total"], 0, "{p}");
    let (_, p) = alice.get("/api/v1/projects/acme-p").await;
    assert_eq!(p["devices"].as_array().unwrap().len(), 2, "{p}");
    assert!(p["device_page"].is_null(), "{p}");
    s.th.hub.shutdown().await.unwrap();
}
