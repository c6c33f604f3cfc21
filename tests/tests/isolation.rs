//! Tenant isolation, route by route: a customer of tenant A asks every API route (taken from the
//! hub's own route table, so a new route cannot be forgotten) for tenant B's objects, and gets
//! nothing — 404 for an object, no trace of B in a list — whatever the URL says. The same for the
//! live event stream and for every engineer gRPC method.

use heartline_e2e::{
    Device, Fleet, Protocol, SseClient, TestHub, WebClient, engineer_client, eventually, ids,
};
use heartline_hub::store::Scope;
use heartline_proto::wire;
use serde_json::json;
use std::time::Duration;

async fn failing(th: &TestHub, fleet: &Fleet, id: &str) -> Device {
    let mut dev = Device::connect(th.hub.mqtt_v4, fleet.device(id), Protocol::V4)
        .await
        .unwrap();
    let mut r = dev.report(1);
    r.checks[0].status = wire::CheckStatus::Crit as i32;
    r.next_checkin_s = 3600;
    dev.send(&r).await.unwrap();
    dev.wait_ack(1, 1).await.unwrap();
    dev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_can_never_reach_another_tenants_objects() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1)), ("globex", ids("globex", 1))]);
    let engineers = fleet.with_engineers("acme", 1);
    let alice = fleet.with_user("alice", "customer", "acme");
    let alice_token = fleet.with_user_token("alice");
    fleet.with_user("ops", "operator", "");
    let ops_token = fleet.with_user_token("ops");
    let th = TestHub::start(&fleet).await.unwrap();
    let _a = failing(&th, &fleet, "acme-0").await;
    let _g = failing(&th, &fleet, "globex-0").await;
    eventually("a ticket per tenant", || {
        th.hub.store().tickets(&Scope::Operator).unwrap().len() == 2
    })
    .await
    .unwrap();
    let tickets = th.hub.store().tickets(&Scope::Operator).unwrap();
    let theirs = tickets.iter().find(|t| t.tenant == "globex").unwrap().id;
    let mine = tickets.iter().find(|t| t.tenant == "acme").unwrap().id;

    let mut web = WebClient::new(th.hub.http);
    web.login("alice", &alice).await;
    let mut checked = 0;
    for route in heartline_hub::web::routes() {
        if route.path == "/api/v1/events" {
            continue; // a stream: checked below
        }
        let path = route
            .path
            .replace("{project}", "globex-p")
            .replace("{device}", "globex-0")
            .replace("{ticket}", &theirs.to_string());
        assert!(
            !path.contains('{'),
            "route {} has a parameter this test does not know: teach it",
            route.path
        );
        let body = json!({"text": "x", "stars": 5, "device": "globex-0"});
        let (status, answer) = match route.method {
            "GET" => web.get(&path).await,
            _ => web.post(&path, body).await,
        };
        let text = answer.to_string();
        let leaked = text.contains("globex");
        let object_route = route.path.contains('{');
        if object_route {
            assert_eq!(status, 404, "{} {path} → {status} {text}", route.method);
        } else {
            assert!(
                status == 404 || (status == 200 && !leaked),
                "{} {path} → {status} {text}",
                route.method
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} routes checked");
    // Her own ticket is there, so the 404s above are about scope, not a broken API.
    assert_eq!(web.get(&format!("/api/v1/tickets/{mine}")).await.0, 200);

    // The live stream: a change at globex, then one at acme; the first event must be acme's.
    let cookie = web.cookie.clone().unwrap();
    let mut events = SseClient::connect(th.hub.http, "/api/v1/events", &[("Cookie", &cookie)])
        .await
        .unwrap();
    // Subscribed once the response has started: a comment-free way is to trigger and read.
    let ops = heartline_engine::Actor::Operator("ops".into());
    let note = |text: &str| heartline_engine::TicketAction::Note { text: text.into() };
    th.hub
        .live()
        .act(theirs, note("globex only"), ops.clone())
        .await
        .unwrap();
    th.hub
        .live()
        .act(mine, note("acme"), ops.clone())
        .await
        .unwrap();
    let ev = events.next(Duration::from_secs(5)).await.unwrap();
    assert!(ev.data.contains("\"tenant\":\"acme\""), "{ev:?}");
    // Event ids count acme's changes only: globex's activity in between leaves no gap.
    for i in 0..3 {
        th.hub
            .live()
            .act(theirs, note(&format!("globex {i}")), ops.clone())
            .await
            .unwrap();
    }
    th.hub
        .live()
        .act(mine, note("acme again"), ops)
        .await
        .unwrap();
    let next = events.next(Duration::from_secs(5)).await.unwrap();
    assert!(next.data.contains("\"tenant\":\"acme\""), "{next:?}");
    assert_eq!(
        next.id.parse::<u64>().unwrap(),
        ev.id.parse::<u64>().unwrap() + 1,
        "a gap in acme's event ids would measure globex's activity"
    );
    assert!(!next.data.contains("seq"), "{next:?}");

    // gRPC: acme's engineer asks for globex's ticket through every engineer method.
    let mut grpc = engineer_client(th.hub.http, &engineers[0].1).await.unwrap();
    let req = || wire::TicketActionRequest {
        ticket_id: theirs.to_string(),
        note: "x".into(),
        to_engineer_id: "eng-0".into(),
    };
    let codes = [
        grpc.accept(req()).await.unwrap_err().code(),
        grpc.decline(req()).await.unwrap_err().code(),
        grpc.on_site(req()).await.unwrap_err().code(),
        grpc.add_note(req()).await.unwrap_err().code(),
        grpc.resolve(req()).await.unwrap_err().code(),
        grpc.hand_over(req()).await.unwrap_err().code(),
    ];
    assert!(
        codes.iter().all(|c| *c == tonic::Code::NotFound),
        "{codes:?}"
    );

    // gRPC for customers: every method of every service, with globex's ids.
    use wire::admin_service_client::AdminServiceClient;
    use wire::device_service_client::DeviceServiceClient;
    use wire::project_status_service_client::ProjectStatusServiceClient;
    use wire::ticket_service_client::TicketServiceClient;
    let (ch, bearer) = heartline_e2e::grpc_channel(th.hub.http, &alice_token)
        .await
        .unwrap();
    let mut status = ProjectStatusServiceClient::with_interceptor(ch.clone(), bearer.clone());
    let mut tickets = TicketServiceClient::with_interceptor(ch.clone(), bearer.clone());
    let mut devices = DeviceServiceClient::with_interceptor(ch.clone(), bearer.clone());
    let mut admin = AdminServiceClient::with_interceptor(ch, bearer);
    let project = |id: &str| wire::GetProjectStatusRequest {
        project_id: id.into(),
    };
    let g = theirs.to_string();
    let not_found = [
        status
            .get_project_status(project("globex-p"))
            .await
            .unwrap_err()
            .code(),
        status
            .watch_project_status(wire::WatchProjectStatusRequest {
                project_ids: vec!["globex-p".into()],
            })
            .await
            .unwrap_err()
            .code(),
        tickets
            .get_ticket(wire::GetTicketRequest {
                ticket_id: g.clone(),
            })
            .await
            .unwrap_err()
            .code(),
        tickets
            .comment_ticket(wire::CommentTicketRequest {
                ticket_id: g.clone(),
                text: "x".into(),
            })
            .await
            .unwrap_err()
            .code(),
        tickets
            .rate_ticket(wire::RateTicketRequest {
                ticket_id: g.clone(),
                stars: 5,
                comment: String::new(),
            })
            .await
            .unwrap_err()
            .code(),
        devices
            .get_device(wire::GetDeviceRequest {
                device_id: "globex-0".into(),
                history: 5,
            })
            .await
            .unwrap_err()
            .code(),
        admin
            .list_tenants(wire::ListTenantsRequest {})
            .await
            .unwrap_err()
            .code(),
        admin
            .list_projects(wire::ListProjectsRequest {
                tenant_id: "globex".into(),
            })
            .await
            .unwrap_err()
            .code(),
        admin
            .list_sites(wire::ListSitesRequest {
                project_id: "globex-p".into(),
            })
            .await
            .unwrap_err()
            .code(),
        admin
            .list_engineers(wire::ListEngineersRequest {})
            .await
            .unwrap_err()
            .code(),
        admin
            .add_maintenance_window(wire::MaintenanceWindow {
                scope_id: "globex-p".into(),
                starts_ms: 0,
                ends_ms: 1,
                reason: String::new(),
            })
            .await
            .unwrap_err()
            .code(),
    ];
    assert!(
        not_found.iter().all(|c| *c == tonic::Code::NotFound),
        "{not_found:?}"
    );
    let listed = tickets
        .list_tickets(wire::ListTicketsRequest {
            project_id: "globex-p".into(),
            open_only: false,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.tickets.is_empty());
    let all = tickets
        .list_tickets(wire::ListTicketsRequest {
            project_id: String::new(),
            open_only: false,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(all.tickets.iter().all(|t| t.tenant_id == "acme") && !all.tickets.is_empty());
    let devs = devices
        .list_devices(wire::ListDevicesRequest {
            project_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(devs.devices.iter().all(|d| d.tenant_id == "acme") && !devs.devices.is_empty());

    // The operator's administration lists what the customer could not.
    let (ch, bearer) = heartline_e2e::grpc_channel(th.hub.http, &ops_token)
        .await
        .unwrap();
    let mut ops_admin = AdminServiceClient::with_interceptor(ch, bearer);
    let tenants = ops_admin
        .list_tenants(wire::ListTenantsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tenants.tenants.len(), 2);
    let sites = ops_admin
        .list_sites(wire::ListSitesRequest {
            project_id: "globex-p".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sites.sites.len(), 1);
    let crew = ops_admin
        .list_engineers(wire::ListEngineersRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(crew.engineers.len(), 1);
    assert_eq!(
        crew.engineers[0].open_tickets, 1,
        "acme's ticket is eng-0's"
    );

    // Her own project: the status, and a live update when something changes there.
    let own = status
        .get_project_status(project("acme-p"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.open_tickets, 1);
    let mut watch = status
        .watch_project_status(wire::WatchProjectStatusRequest {
            project_ids: vec!["acme-p".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.project_id, "acme-p");
    let ops = heartline_engine::Actor::Operator("ops".into());
    let cancel = heartline_engine::TicketAction::Cancel {
        reason: "duplicate".into(),
    };
    th.hub.live().act(mine, cancel, ops).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((next.project_id.as_str(), next.open_tickets), ("acme-p", 0));
    th.hub.shutdown().await.unwrap();
}

/// A raw HTTP request: (status, content type, body).
async fn raw(
    http: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let url = format!("http://{http}{path}");
    let (method, body) = (method.to_string(), body.to_string());
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut b = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(&url);
        for (k, v) in &headers {
            b = b.header(k, v);
        }
        let mut r = agent.run(b.body(body).unwrap()).unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (r.status().as_u16(), ct, text)
    })
    .await
    .unwrap()
}

/// Unknown and malformed paths answer the API's JSON error — 401 without credentials, 404 with
/// them — never an empty 200 (the gRPC router once took every unmatched path). gRPC paths
/// answer only gRPC. `POST /login` takes a form and JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_paths_get_a_json_error_and_login_takes_json() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1))]);
    let alice = fleet.with_user("alice", "customer", "acme");
    let th = TestHub::start(&fleet).await.unwrap();
    let http = th.hub.http;
    let is_json_error = |ct: &str, body: &str| {
        ct.starts_with("application/json")
            && serde_json::from_str::<serde_json::Value>(body)
                .is_ok_and(|v| v["error"].as_str().is_some_and(|e| !e.is_empty()))
    };
    let unknown = [
        "/nope",
        "/api/v1/nope",
        "/api/v2/projects",
        "/api/v1/projects/acme-p/nope",
        "/api//v1/projects",
        "/api/v1/tickets/1/../../../etc/passwd",
        "/heartline.v1.TicketService/ListTickets",
        "/heartline.v1.NoSuchService/Call",
        "/%ff%fe",
    ];

    // Without credentials: 401, whatever the path.
    for path in unknown {
        for method in ["GET", "POST"] {
            let (status, ct, body) = raw(http, method, path, &[], "").await;
            assert_eq!(status, 401, "{method} {path} → {status} {body}");
            assert!(is_json_error(&ct, &body), "{method} {path} → {ct} {body}");
        }
    }

    // JSON login works, as a form does; other bodies get a JSON error saying what to send.
    let login = |ct: &'static str, body: String| async move {
        raw(http, "POST", "/login", &[("Content-Type", ct)], &body).await
    };
    let (status, _, body) = login(
        "application/json",
        json!({"user": "alice", "password": alice}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = login(
        "application/x-www-form-urlencoded",
        format!("user=alice&password={alice}"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = login(
        "application/json",
        json!({"user": "alice", "password": "wrong"}).to_string(),
    )
    .await;
    assert_eq!(status, 401);
    for (ct, body, want) in [
        ("application/json", "{\"user\": ", 400),
        ("application/json", "{\"user\": \"alice\"}", 422),
        ("text/plain", "alice", 415),
    ] {
        let (status, got_ct, got) = login(ct, body.to_string()).await;
        assert_eq!(status, want, "{ct} {body} → {got}");
        assert!(is_json_error(&got_ct, &got), "{ct} {body} → {got_ct} {got}");
        assert!(got.contains("以表单或 JSON 发送"), "{got}");
    }

    // With a session: 404 for every unknown path.
    let mut web = WebClient::new(http);
    web.login("alice", &alice).await;
    let cookie = web.cookie.clone().unwrap();
    for path in unknown {
        let (status, ct, body) = raw(http, "GET", path, &[("Cookie", &cookie)], "").await;
        assert_eq!(status, 404, "GET {path} → {status} {body}");
        assert!(is_json_error(&ct, &body), "GET {path} → {ct} {body}");
    }
    // A route with a malformed parameter is refused in the same shape.
    let (status, ct, body) = raw(
        http,
        "GET",
        "/api/v1/tickets/abc",
        &[("Cookie", &cookie)],
        "",
    )
    .await;
    assert!(
        status == 400 || status == 404,
        "GET /api/v1/tickets/abc → {status} {body}"
    );
    assert!(is_json_error(&ct, &body), "{ct} {body}");
    // A real route still answers.
    assert_eq!(web.get("/api/v1/projects").await.0, 200);

    // gRPC to an unknown method: gRPC's own "unimplemented" (status 12), not a web page.
    let (status, _, _) = raw(
        http,
        "POST",
        "/heartline.v1.NoSuchService/Call",
        &[("Content-Type", "application/grpc")],
        "",
    )
    .await;
    assert_eq!(status, 200, "gRPC answers in its trailers");
    th.hub.shutdown().await.unwrap();
}
