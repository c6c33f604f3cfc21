//! TLS end to end, with certificates from files made by rcgen for each test: the agent and an
//! MQTT 5 client complete real handshakes with the hub's own MQTT TLS port and their reports are
//! stored and acknowledged; people log in, read the JSON API and make a gRPC call over HTTPS
//! (ALPN h2); a client that does not trust the certificate, and a plain-TCP client on a TLS port,
//! get nothing in; a bad certificate or key file stops start-up, naming the file.

use heartline_agent::AgentConfig;
use heartline_e2e::{DeviceCreds, Fleet, PATIENCE, TestHub, eventually, ids, output_of};
use heartline_hub::config::TlsConfig;
use heartline_hub::store::Scope;
use heartline_proto::envelope::{open, seal};
use heartline_proto::{Channel, wire};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use toml::Spanned;

const HUB: &str = env!("CARGO_BIN_EXE_hub");

/// A test CA and a server certificate it issued for `localhost` and 127.0.0.1.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

impl Pki {
    /// Writes `hub.crt` and `hub.key` into `dir`.
    fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("hub.crt"), dir.join("hub.key"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }

    /// A rustls client trusting this CA, offering `alpn`.
    fn client(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(cfg)
    }
}

/// A hub with `[tls]` from `pki`'s files: MQTT over TLS on an ephemeral port, HTTPS if `https`.
async fn tls_hub(fleet: &Fleet, pki: &Pki, https: bool) -> TestHub {
    let th = TestHub::start_with(fleet, |c| {
        let dir = c.store.path.parent().unwrap().to_path_buf();
        let (cert, key) = pki.write(&dir);
        c.tls = Some(TlsConfig {
            cert_file: Spanned::new(0..0, cert),
            key_file: Spanned::new(0..0, key),
            mqtt_listen: Some(Spanned::new(0..0, "127.0.0.1:0".parse().unwrap())),
            https,
        });
    })
    .await
    .unwrap();
    assert!(th.hub.mqtt_tls.is_some());
    assert_eq!(th.hub.https, https);
    th
}

fn agent_config(port: u16, d: &DeviceCreds, dir: &Path, ca: &str) -> AgentConfig {
    std::fs::write(dir.join("ca.pem"), ca).unwrap();
    let toml = format!(
        "[hub]\nhost = \"localhost\"\nport = {port}\ntenant = \"{}\"\ndevice_id = \"{}\"\ntoken = \"{}\"\nkey = \"{}\"\n\
         ca_file = \"ca.pem\"\n[agent]\ninterval = \"200ms\"\nstate_dir = \"state\"\n\
         [collect]\ntemperatures = false\nnetwork = false\n",
        d.tenant,
        d.id,
        d.token,
        hex::encode(d.key.0)
    );
    AgentConfig::parse(&dir.join("agent.toml"), &toml).unwrap()
}

fn stored(th: &TestHub, device: &str) -> usize {
    th.hub
        .store()
        .history(&Scope::Operator, device, 1_000)
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_reports_over_the_hubs_own_tls_port_and_is_acknowledged() {
    let fleet = Fleet::new(&[("acme", ids("gw", 1))]);
    let pki = pki();
    let th = tls_hub(&fleet, &pki, false).await;
    let port = th.hub.mqtt_tls.unwrap().port();
    // A client that connects and never starts its handshake holds up nobody else.
    let _silent = tokio::net::TcpStream::connect(th.hub.mqtt_tls.unwrap())
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let cfg = agent_config(port, &fleet.devices[0], dir.path(), &pki.ca_pem);
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(heartline_agent::run(cfg, async move {
        let _ = stopped.await;
    }));
    eventually("five reports over TLS", || stored(&th, "gw-0") >= 5)
        .await
        .unwrap();
    let _ = stop.send(());
    agent.await.unwrap().unwrap();
    // The hub's signed acks came back through the same TLS connection and emptied the outbox
    // (at most what was in flight when the agent stopped remains).
    let outbox =
        heartline_agent::outbox::Outbox::open(&dir.path().join("state/outbox.redb"), 100).unwrap();
    let pending = outbox.pending().unwrap().len();
    assert!(pending <= 2, "{pending} reports were never acknowledged");
    let m = th.hub.metrics();
    assert!(m.tls_handshakes("mqtt", true) >= 1);
    assert_eq!(m.tls_handshakes("mqtt", false), 0);
    th.hub.shutdown().await.unwrap();
}

/// Connects an MQTT 5 client over TLS as `d` with `password`, publishes one signed report and
/// returns the hub's ack for it; an error if the broker refuses or the link fails.
async fn mqtt5_report_over_tls(
    port: u16,
    d: &DeviceCreds,
    password: &str,
    tls: Arc<rustls::ClientConfig>,
) -> anyhow::Result<wire::Ack> {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};
    let mut o = MqttOptions::new(d.id.clone(), "localhost", port);
    o.set_credentials(d.id.clone(), password);
    o.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(tls),
    ));
    let (client, mut events) = AsyncClient::new(o, 10);
    client
        .subscribe(d.topic(Channel::Ack), QoS::AtLeastOnce)
        .await?;
    let report = heartline_e2e::sample_report(&d.id, 7, 1);
    client
        .publish(
            d.topic(Channel::Report),
            QoS::AtLeastOnce,
            false,
            seal(&d.key, &report),
        )
        .await?;
    let ack = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await? {
                if let Ok(ack) = open::<wire::Ack>(&d.key, &p.payload) {
                    return anyhow::Ok(ack);
                }
            }
        }
    })
    .await??;
    let _ = client.disconnect().await;
    Ok(ack)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_5_over_tls_logs_in_as_before_and_is_acknowledged() {
    let fleet = Fleet::new(&[("acme", ids("gw", 2))]);
    let pki = pki();
    let th = tls_hub(&fleet, &pki, false).await;
    let port = th.hub.mqtt_tls.unwrap().port();
    let d = &fleet.devices[0];

    let ack = mqtt5_report_over_tls(port, d, &d.token, pki.client(&[]))
        .await
        .unwrap();
    assert_eq!((ack.boot_id, ack.sequence), (7, 1));
    assert_eq!(stored(&th, "gw-0"), 1);

    // TLS does not replace the device's own login: a wrong token is refused as on a plain port.
    let other = &fleet.devices[1];
    let refused = mqtt5_report_over_tls(port, other, "not the token", pki.client(&[])).await;
    assert!(refused.is_err());
    assert_eq!(stored(&th, "gw-1"), 0);
    assert!(th.hub.metrics().tls_handshakes("mqtt", true) >= 2);

    // What a handshake costs on this machine (loopback, ECDSA P-256, TLS 1.3).
    let connector = tokio_rustls::TlsConnector::from(pki.client(&[]));
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let tcp = tokio::net::TcpStream::connect(th.hub.mqtt_tls.unwrap())
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    eprintln!(
        "TLS handshake with the MQTT TLS port: median {:?}, max {:?} (20 over loopback)",
        times[10], times[19]
    );
    th.hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_do_not_trust_the_hub_or_skip_tls_get_nothing_in() {
    let fleet = Fleet::new(&[("acme", ids("gw", 2))]);
    let (pki, stranger) = (pki(), pki());
    let th = tls_hub(&fleet, &pki, false).await;
    let tls_addr = th.hub.mqtt_tls.unwrap();
    let m = th.hub.metrics();

    // An agent trusting another CA refuses the hub's certificate: the handshake fails.
    let dir = tempfile::tempdir().unwrap();
    let cfg = agent_config(
        tls_addr.port(),
        &fleet.devices[0],
        dir.path(),
        &stranger.ca_pem,
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(heartline_agent::run(cfg, async move {
        let _ = stopped.await;
    }));
    eventually("a refused handshake", || {
        m.tls_handshakes("mqtt", false) >= 1
    })
    .await
    .unwrap();
    let _ = stop.send(());
    agent.await.unwrap().unwrap();
    let refused_by_agent = m.tls_handshakes("mqtt", false);

    // A device speaking plain MQTT to the TLS port, with valid credentials, never gets through.
    let d = &fleet.devices[1];
    let mut o = rumqttc::MqttOptions::new(d.id.clone(), "127.0.0.1", tls_addr.port());
    o.set_credentials(d.id.clone(), d.token.clone());
    let (client, mut events) = rumqttc::AsyncClient::new(o, 10);
    client
        .publish(
            d.topic(Channel::Report),
            rumqttc::QoS::AtLeastOnce,
            false,
            seal(&d.key, &heartline_e2e::sample_report(&d.id, 1, 1)),
        )
        .await
        .unwrap();
    let first_error = tokio::time::timeout(PATIENCE, async {
        loop {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    panic!("a plain client got a CONNACK on the TLS port")
                }
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    })
    .await
    .expect("the plain client is cut off");
    eprintln!("plain MQTT on the TLS port: {first_error}");
    eventually("the plain client's refused handshake", || {
        m.tls_handshakes("mqtt", false) > refused_by_agent
    })
    .await
    .unwrap();

    assert_eq!(m.tls_handshakes("mqtt", true), 0);
    assert_eq!(stored(&th, "gw-0"), 0);
    assert_eq!(stored(&th, "gw-1"), 0);
    th.hub.shutdown().await.unwrap();
}

fn https_agent(ca_pem: Option<&str>) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig as UreqTls};
    let mut tls = UreqTls::builder();
    if let Some(ca) = ca_pem {
        let ca = Certificate::from_pem(ca.as_bytes()).unwrap();
        tls = tls.root_certs(RootCerts::Specific(Arc::new(vec![ca])));
    }
    ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_use_the_web_view_api_and_grpc_over_https() {
    let mut fleet = Fleet::new(&[("acme", ids("gw", 1))]);
    let password = fleet.with_user("alice", "customer", "acme");
    fleet.with_user("ops", "operator", "");
    let ops_token = fleet.with_user_token("ops");
    let engineer_token = fleet.with_engineers("acme", 1).remove(0).1;
    let pki = pki();
    let th = tls_hub(&fleet, &pki, true).await;
    let base = format!("https://127.0.0.1:{}", th.hub.http.port());
    // A client that connects and never starts its handshake holds up nobody else.
    let _silent = tokio::net::TcpStream::connect(th.hub.http).await.unwrap();

    // Login and the JSON API with a client that trusts the test CA.
    let (agent, url) = (https_agent(Some(&pki.ca_pem)), base.clone());
    let (cookie, projects, health) = tokio::task::spawn_blocking(move || {
        let login = agent
            .post(format!("{url}/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(format!("user=alice&password={password}"))
            .unwrap();
        assert_eq!(login.status(), 200);
        let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
        let session = cookie.split(';').next().unwrap().to_string();
        let mut projects = agent
            .get(format!("{url}/api/v1/projects"))
            .header("Cookie", session)
            .call()
            .unwrap();
        assert_eq!(projects.status(), 200);
        let projects = projects.body_mut().read_to_string().unwrap();
        let mut health = agent.get(format!("{url}/healthz")).call().unwrap();
        let health = health.body_mut().read_to_string().unwrap();
        (cookie, projects, health)
    })
    .await
    .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(projects.contains("acme"), "{projects}");
    assert_eq!(health, "ok\n");

    // One gRPC call over TLS: HTTP/2 chosen by ALPN on the same port.
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    let channel = tonic::transport::Channel::from_shared(base.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {ops_token}").parse().unwrap();
    let mut admin = wire::admin_service_client::AdminServiceClient::with_interceptor(
        channel,
        move |mut req: tonic::Request<()>| {
            req.metadata_mut().insert("authorization", bearer.clone());
            Ok(req)
        },
    );
    let tenants = admin
        .list_tenants(wire::ListTenantsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        tenants.tenants.iter().any(|t| t.tenant_id == "acme"),
        "{tenants:?}"
    );
    // The engineer's command line over HTTPS, trusting the CA file it is given.
    let ca_file = th.dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let (ok, stdout, stderr) = output_of(
        std::process::Command::new(HUB)
            .args([
                "engineer",
                "--hub",
                &base.replace("127.0.0.1", "localhost"),
                "--ca-file",
            ])
            .arg(&ca_file)
            .arg("queue")
            .env("HEARTLINE_TOKEN", &engineer_token),
    );
    assert!(ok, "engineer queue over HTTPS: {stdout}{stderr}");
    let m = th.hub.metrics();
    let completed = m.tls_handshakes("https", true);
    assert!(completed >= 3, "{completed} HTTPS handshakes");

    // A client that does not trust the certificate (the public roots only) fails the handshake;
    // plain HTTP on the HTTPS port gets no answer from the API.
    let (untrusting, plain) = (https_agent(None), https_agent(None));
    let (url, port) = (base.clone(), th.hub.http.port());
    let (refused, unanswered) = tokio::task::spawn_blocking(move || {
        let refused = untrusting.get(format!("{url}/healthz")).call();
        let unanswered = plain.get(format!("http://127.0.0.1:{port}/healthz")).call();
        (refused, unanswered)
    })
    .await
    .unwrap();
    let refused = refused.expect_err("an untrusting client completed the handshake");
    eprintln!("untrusting HTTPS client: {refused}");
    assert!(
        !matches!(&unanswered, Ok(r) if r.status() == 200),
        "plain HTTP was served on the HTTPS port"
    );
    eventually("two refused HTTPS handshakes", || {
        m.tls_handshakes("https", false) >= 2
    })
    .await
    .unwrap();
    assert_eq!(m.tls_handshakes("https", true), completed);
    th.hub.shutdown().await.unwrap();
}

/// Waits for `child` to exit, for at most [`PATIENCE`].
fn exit_of(mut child: std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the hub kept running with a bad key file");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_certificate_or_key_file_stops_start_up_naming_the_file() {
    let fleet = Fleet::new(&[("acme", ids("gw", 1))]);
    let (good, other) = (pki(), pki());

    // In process: a certificate file that holds a key.
    let started = TestHub::start_with(&fleet, |c| {
        let dir = c.store.path.parent().unwrap().to_path_buf();
        let (_, key) = good.write(&dir);
        c.tls = Some(TlsConfig {
            cert_file: Spanned::new(0..0, key.clone()),
            key_file: Spanned::new(0..0, key),
            mqtt_listen: None,
            https: true,
        });
    })
    .await;
    let err = format!(
        "{:#}",
        started.err().expect("started with a key as certificate")
    );
    assert!(err.contains("hub.key") && err.contains("swapped"), "{err}");

    // The real command: a key that belongs to another certificate. `check-config` and `run`
    // both refuse it, on the config line that names the file, before the store is opened.
    let dir = tempfile::tempdir().unwrap();
    good.write(dir.path());
    std::fs::write(dir.path().join("hub.key"), &other.key_pem).unwrap();
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        "[mqtt]\nv4_listen = \"127.0.0.1:0\"\nv5_listen = \"127.0.0.1:0\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"store.redb\"\n\
         [tls]\ncert_file = \"hub.crt\"\nkey_file = \"hub.key\"\nmqtt_listen = \"127.0.0.1:0\"\nhttps = true\n",
    )
    .unwrap();
    let (ok, _, stderr) = output_of(
        std::process::Command::new(HUB)
            .args(["check-config", "--config"])
            .arg(&config),
    );
    assert!(!ok);
    assert!(stderr.contains("hub.toml:10:"), "{stderr}");
    assert!(stderr.contains("hub.key"), "{stderr}");
    assert!(
        stderr.contains("does not belong to the certificate"),
        "{stderr}"
    );
    eprintln!("check-config: {stderr}");

    let child = std::process::Command::new(HUB)
        .args(["run", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("hub.log")).unwrap())
        .spawn()
        .unwrap();
    assert!(!exit_of(child).success());
    let log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap();
    assert!(
        log.contains("hub.key") && log.contains("does not belong"),
        "{log}"
    );
    assert!(
        !log.contains(other.key_pem.lines().nth(1).unwrap()),
        "the key leaked into the log"
    );
    assert!(!dir.path().join("store.redb").exists());
}
