//! The agent's TLS to the hub: with the right CA file it completes a real TLS handshake (rustls,
//! ring) and its reports arrive; with another CA it refuses the server and sends nothing. The hub's
//! own TLS listener comes with the security issue; here a TLS terminator in front of the hub's
//! MQTT port plays the TLS-speaking broker.

use heartline_agent::AgentConfig;
use heartline_e2e::{Fleet, TestHub, eventually, ids};
use heartline_hub::store::Scope;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::oneshot;

struct Pki {
    ca_pem: String,
    server: tokio_rustls::TlsAcceptor,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    }
}

/// Terminates TLS on a loopback port and forwards the bytes to `upstream`; counts handshakes.
async fn tls_terminator(
    acceptor: tokio_rustls::TlsAcceptor,
    upstream: SocketAddr,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, ok, failed) = (acceptor.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(mut tls) => {
                        ok.fetch_add(1, Ordering::SeqCst);
                        if let Ok(mut hub) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut hub).await;
                        }
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    addr
}

fn config(
    port: u16,
    d: &heartline_e2e::DeviceCreds,
    dir: &std::path::Path,
    ca: &str,
) -> AgentConfig {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_travel_over_tls_only_to_a_server_the_ca_vouches_for() {
    let fleet = Fleet::new(&[("acme", ids("gw", 2))]);
    let th = TestHub::start(&fleet).await.unwrap();
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let pki_hub = pki();
    let proxy = tls_terminator(
        pki_hub.server.clone(),
        th.hub.mqtt_v4,
        ok.clone(),
        failed.clone(),
    )
    .await;

    // The right CA: a handshake, then reports.
    let good_dir = tempfile::tempdir().unwrap();
    let good = config(
        proxy.port(),
        &fleet.devices[0],
        good_dir.path(),
        &pki_hub.ca_pem,
    );
    let (stop_good, stopped) = oneshot::channel::<()>();
    let good_task = tokio::spawn(heartline_agent::run(good, async move {
        let _ = stopped.await;
    }));
    eventually("reports over TLS", || {
        th.hub
            .store()
            .history(&Scope::Operator, "gw-0", 10)
            .unwrap()
            .len()
            >= 2
    })
    .await
    .unwrap();
    assert!(ok.load(Ordering::SeqCst) >= 1);

    // Another CA: the agent refuses the server's certificate and nothing arrives.
    let other_dir = tempfile::tempdir().unwrap();
    let other = config(
        proxy.port(),
        &fleet.devices[1],
        other_dir.path(),
        &pki().ca_pem,
    );
    let (stop_other, stopped) = oneshot::channel::<()>();
    let other_task = tokio::spawn(heartline_agent::run(other, async move {
        let _ = stopped.await;
    }));
    eventually("a refused handshake", || failed.load(Ordering::SeqCst) >= 1)
        .await
        .unwrap();
    assert!(
        th.hub
            .store()
            .history(&Scope::Operator, "gw-1", 10)
            .unwrap()
            .is_empty()
    );

    let _ = stop_good.send(());
    let _ = stop_other.send(());
    good_task.await.unwrap().unwrap();
    other_task.await.unwrap().unwrap();
    th.hub.shutdown().await.unwrap();
}
