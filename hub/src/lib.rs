//! The Heartline hub: devices publish signed health reports over MQTT; the hub verifies them,
//! drops duplicates, commits them to a durable store and acknowledges them.
//!
//! Component map:
//! - [`config`]: `hub.toml`, validated with the line of each mistake; its detection part is
//!   compiled by `heartline_engine::detection_config`.
//! - [`inventory`]: tenants, projects, sites, devices and engineers from a TOML file.
//! - [`store`]: redb behind one narrow, scoped interface.
//! - [`directory`]: device credentials in memory, for connect-time auth and signature checks.
//! - [`broker`]: the embedded broker (RMQTT): device auth and topic ACL, the hub's link, cluster.
//! - [`cluster`]: the device directory shared with broker-only nodes (`heartline-hub broker`).
//! - [`ingest`]: decode → verify → dedupe → commit → ack, on its own thread.
//! - the decisions (detection, tickets, dispatch, SLA escalation) are the sans-IO
//!   `heartline_engine` crate, whose domain types (reports, devices, tickets, SLA) the store,
//!   inventory, audit and ingest use as they are. Nothing in `heartline_engine` imports the hub.
//! - [`live`], [`api`]: ticket actions into ingest, committed changes out; gRPC and SSE for people.
//! - [`web`]: the project view: login, JSON API, live events, pages, KPI board.
//! - [`notify`]: notices to people (log, signed webhook from a durable outbox).
//! - [`engineer_cli`]: `heartline-hub engineer ...`, the engineer's command line.
//! - [`audit`]: the hash-chained audit trail of ticket changes and people's actions.
//! - [`backup`]: the control socket next to the store; `backup` and `audit verify` through it.
//! - [`metrics`], [`http`]: Prometheus counters and the HTTP endpoint that serves them.
//! - [`tls`]: the certificate and key from files; MQTT over TLS and HTTPS.
//! - [`cli`]: the `heartline-hub` command (`run`, `init`, `check-config`, `inventory apply`).

pub mod api;
pub mod audit;
pub mod backup;
pub mod broker;
pub mod classify;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod directory;
pub mod engineer_cli;
pub mod http;
pub mod i18n;
pub mod ingest;
pub mod inventory;
pub mod live;
pub mod localtime;
pub mod metrics;
pub mod notify;
pub mod parts;
pub mod retention;
#[cfg(test)]
mod sample;
pub mod store;
pub mod tls;
pub mod user_cli;
pub mod web;

use anyhow::Context;
use config::HubConfig;
use directory::Directory;
use ingest::{Ingest, Limits};
use inventory::Inventory;
use metrics::Metrics;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use store::Store;

/// A running hub. Dropping it without [`Hub::shutdown`] leaves ingest running.
pub struct Hub {
    /// MQTT 3.1.1 listener.
    pub mqtt_v4: SocketAddr,
    /// MQTT 5 listener.
    pub mqtt_v5: SocketAddr,
    /// MQTT over TLS (3.1.1 and 5), when `[tls] mqtt_listen` is set.
    pub mqtt_tls: Option<SocketAddr>,
    /// The HTTP port: web view, API, `/metrics` and `/healthz`.
    pub http: SocketAddr,
    /// The HTTP port serves HTTPS.
    pub https: bool,
    store: Arc<Store>,
    directory: Directory,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    inventory_gen: Arc<std::sync::atomic::AtomicU64>,
    ingest: std::thread::JoinHandle<()>,
    deaths: parts::Deaths,
    notifier: Option<std::thread::JoinHandle<()>>,
    /// Removes what is older than `[store] retention_days`; `None` when everything is kept.
    retention: Option<std::thread::JoinHandle<()>>,
    mailer: Option<std::thread::JoinHandle<()>>,
    /// Delivers customer notices to the tenants' webhooks.
    customer_hooks: std::thread::JoinHandle<()>,
    live: live::Live,
    closing: tokio::sync::watch::Sender<bool>,
    http_stop: tokio::sync::oneshot::Sender<()>,
    http_task: tokio::task::JoinHandle<std::io::Result<()>>,
    control: Option<tokio::task::JoinHandle<()>>,
    mqtt_tls_task: Option<tokio::task::JoinHandle<()>>,
    link: broker::LinkTx,
}

impl Hub {
    /// Opens the store, applies the configured inventory, starts the broker, ingest and the HTTP
    /// endpoint. Returns once every listener accepts connections.
    pub async fn start(config: HubConfig) -> anyhow::Result<Hub> {
        // Certificate and key first: a bad file stops start-up before anything opens.
        let tls = match &config.tls {
            Some(cfg) => Some(tls::Tls::load(cfg).context("TLS ([tls] in the config)")?),
            None => None,
        };
        let store = Store::open_with_cache(
            &config.store.path,
            config.store.history_len,
            config.store.cache_bytes(),
        )
        .with_context(|| format!("opening the store {}", config.store.path.display()))?;
        let store = Arc::new(store);
        if let Some(path) = &config.inventory {
            let inv = Inventory::load(path)?;
            let s = store.apply_inventory_by(&inv, "operator:start-up")?;
            tracing::info!(path = %path.display(), created = s.created, updated = s.updated, unchanged = s.unchanged, "inventory applied");
        }
        let directory = Directory::load(&store)?;
        let metrics = Arc::new(Metrics::default());
        let stop = Arc::new(AtomicBool::new(false));
        let deaths = parts::Deaths::new(stop.clone());

        let link = broker::start(
            &config.mqtt,
            config.cluster.as_ref(),
            directory.clone(),
            metrics.clone(),
        )
        .await?;
        let link_tx = link.tx.clone();
        {
            let (deaths, mut failed) = (deaths.clone(), link.failed.clone());
            tokio::spawn(async move {
                if let Ok(why) = failed.wait_for(Option::is_some).await {
                    deaths.report("broker", why.clone().unwrap_or_default());
                }
            });
        }
        let limits = Limits {
            max_report_bytes: *config.ingest.max_report_bytes.get_ref(),
            batch_max: config.ingest.batch_max.max(1),
            // Both validated within 0..=1,000,000 by `HubConfig::parse`.
            max_reports_per_minute: *config.ingest.max_reports_per_minute.get_ref() as u32,
            report_burst: *config.ingest.report_burst.get_ref() as u32,
            gap_wait_ms: *config.ingest.gap_wait_s.get_ref() * 1_000,
        };
        let inventory_gen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (live, live_ingest) = live::channels();
        let notifier = start_notifier(&config.notify, &store, &stop, &deaths)?;
        let mailer = start_mailer(config.mail.as_ref(), &store, &stop, &deaths)?;
        let customer_hooks = start_customer_hooks(&config, &store, &stop, &deaths)?;
        let ingest = Ingest::new(
            store.clone(),
            directory.clone(),
            metrics.clone(),
            limits,
            link.tx,
            config.detection.clone(),
            inventory_gen.clone(),
            live_ingest,
            notifier.as_ref().map(|(wake, _)| wake.clone()),
        )?;
        let ingest = ingest.on_store_failure(deaths.clone());
        let retention = match config.store.retention_ms() {
            Some(keep) => {
                let (store, stop) = (store.clone(), stop.clone());
                let reopen = config.detection.reopen_window;
                Some(deaths.thread("retention", move || {
                    retention::run(store, keep, reopen, stop)
                })?)
            }
            None => None,
        };
        let ingest = {
            let stop = stop.clone();
            let rx = link.rx.clone();
            deaths.thread("ingest", move || ingest.run(rx, stop))?
        };

        let mqtt_tls = match (
            &tls,
            config.tls.as_ref().and_then(|t| t.mqtt_listen.as_ref()),
        ) {
            (
                Some(tls::Tls {
                    mqtt: Some(server), ..
                }),
                Some(addr),
            ) => {
                let addr = *addr.get_ref();
                let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                    format!("cannot listen for MQTT over TLS on {addr}: is the port taken?")
                })?;
                let bound = listener.local_addr()?;
                let task = deaths.spawn(
                    "MQTT over TLS listener",
                    tls::mqtt::serve(
                        listener,
                        tokio_rustls::TlsAcceptor::from(server.clone()),
                        tls::mqtt::Upstream::of(link.v4, link.v5),
                        config.mqtt.max_connections,
                        metrics.clone(),
                    ),
                );
                tracing::info!(%bound, "MQTT over TLS listening (3.1.1 and 5)");
                Some((bound, task))
            }
            _ => None,
        };

        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .with_context(|| format!("cannot serve HTTP on {}", config.http.listen))?;
        let http = listener.local_addr()?;
        let (http_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (closing, closing_rx) = tokio::sync::watch::channel(false);
        let https = tls.as_ref().and_then(|t| t.https.clone());
        let web = web::WebState {
            store: store.clone(),
            live: live.clone(),
            sessions: Default::default(),
            closing: closing_rx.clone(),
            https: https.is_some(),
            positions: Arc::new(web::positions::Positions::new(
                config.http.position_stale_ms as heartline_engine::Ms,
            )),
        };
        let api = api::ApiState {
            store: store.clone(),
            live: live.clone(),
            closing: closing_rx,
        };
        let stopped = async move {
            let _ = stopped.await;
        };
        let cluster = match &config.cluster {
            Some(c) => Some(cluster::router(directory.clone(), c.secret()?)),
            None => None,
        };
        let scheme = if https.is_some() { "https" } else { "http" };
        let http_task = match https {
            Some(server) => {
                let listener = tls::https::TlsListener::new(
                    listener,
                    tokio_rustls::TlsAcceptor::from(server),
                    metrics.clone(),
                );
                deaths.spawn(
                    "HTTP server",
                    http::serve(listener, metrics.clone(), api, web, cluster, stopped),
                )
            }
            None => deaths.spawn(
                "HTTP server",
                http::serve(listener, metrics.clone(), api, web, cluster, stopped),
            ),
        };
        tracing::info!(%http, "metrics at {scheme}://{http}/metrics; gRPC API on the same port");
        // Without its control socket the hub still runs; only `backup` and `audit verify` then
        // need it stopped.
        let control = match backup::listen(&config.store.path) {
            Ok(listener) => Some(deaths.spawn(
                "control socket",
                backup::serve(
                    listener,
                    store.clone(),
                    backup::socket_path(&config.store.path),
                    closing.subscribe(),
                ),
            )),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "no control socket: `heartline-hub backup` and `audit verify` work only while the hub is stopped");
                None
            }
        };
        Ok(Hub {
            mqtt_v4: link.v4,
            mqtt_v5: link.v5,
            mqtt_tls: mqtt_tls.as_ref().map(|(addr, _)| *addr),
            http,
            https: scheme == "https",
            store,
            directory,
            metrics,
            stop,
            inventory_gen,
            ingest,
            notifier: notifier.map(|(_, thread)| thread),
            retention,
            mailer,
            customer_hooks,
            live,
            closing,
            http_stop,
            http_task,
            control,
            mqtt_tls_task: mqtt_tls.map(|(_, task)| task),
            deaths,
            link: link_tx,
        })
    }

    /// Resolves when a part of the hub died (the store failed a write, the broker stopped, a
    /// thread panicked, a listener ended): the hub must be restarted. Never resolves otherwise.
    pub async fn failed(&self) -> parts::Death {
        self.deaths.first().await
    }

    /// Publishes a retained message on a device's topic as the hub (the only writer of a
    /// device's `config`): `payload` is sent as given, so it must already be sealed.
    pub fn publish_retained(&self, topic: String, payload: Vec<u8>) -> anyhow::Result<()> {
        self.link
            .retain(topic, payload)
            .map_err(|e| anyhow::anyhow!("publishing through the broker link: {e}"))
    }

    /// Sends a message to one device as the hub does an ack or a probe (at most once, not
    /// retained); `payload` is sent as given, so it must already be sealed.
    pub fn publish(&self, topic: String, payload: Vec<u8>) -> anyhow::Result<()> {
        self.link
            .send(topic, payload)
            .map_err(|e| anyhow::anyhow!("publishing through the broker link: {e}"))
    }

    /// Ticket actions and live ticket changes.
    pub fn live(&self) -> &live::Live {
        &self.live
    }

    /// The store, for reads (every read takes a scope).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Applies an inventory to the running hub's store and refreshes the device directory.
    pub fn apply_inventory(&self, inv: &Inventory) -> anyhow::Result<store::ApplySummary> {
        let summary = self.store.apply_inventory_by(inv, "operator:reload")?;
        self.directory.reload(&self.store)?;
        self.inventory_gen.fetch_add(1, Ordering::AcqRel);
        Ok(summary)
    }

    /// Stops taking new messages, commits and acknowledges what was already received, stops the
    /// HTTP endpoint and closes the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Release);
        // No new TLS devices; connections already piped live on, as the broker's own do.
        if let Some(task) = &self.mqtt_tls_task {
            task.abort();
        }
        // A part that died does not keep the others from stopping: its error comes last.
        let ingest = self.ingest;
        let ingested = tokio::task::spawn_blocking(move || ingest.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the ingest thread panicked"));
        // Live streams end, then the HTTP server stops once its connections are done (bounded:
        // a client that never hangs up does not hold the hub).
        let _ = self.closing.send(true);
        let _ = self.http_stop.send(());
        let served =
            match tokio::time::timeout(std::time::Duration::from_secs(5), self.http_task).await {
                Ok(served) => served
                    .map_err(|e| anyhow::anyhow!("the HTTP server task failed: {e}"))
                    .and_then(|r| r.map_err(anyhow::Error::from)),
                Err(_) => {
                    tracing::warn!("HTTP connections still open after 5 s; closing anyway");
                    Ok(())
                }
            };
        if let Some(control) = self.control {
            let _ = control.await;
        }
        let notified = match self.notifier {
            Some(n) => tokio::task::spawn_blocking(move || n.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the notifier thread panicked")),
            None => Ok(()),
        };
        let retained = match self.retention {
            Some(r) => tokio::task::spawn_blocking(move || r.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the retention thread panicked")),
            None => Ok(()),
        };
        let mailed = match self.mailer {
            Some(m) => tokio::task::spawn_blocking(move || m.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the mailer thread panicked")),
            None => Ok(()),
        };
        let hooked = tokio::task::spawn_blocking(move || self.customer_hooks.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the customer webhook thread panicked"));
        // Ingest held the other reference; dropping the last one closes the redb file cleanly.
        drop(self.store);
        tracing::info!("hub stopped");
        ingested
            .and(served)
            .and(notified)
            .and(mailed)
            .and(hooked)
            .and(retained)
    }
}

/// With `[mail]` configured: the thread that mails customers their repair notices.
fn start_mailer(
    cfg: Option<&config::MailConfig>,
    store: &Arc<Store>,
    stop: &Arc<AtomicBool>,
    deaths: &parts::Deaths,
) -> anyhow::Result<Option<std::thread::JoinHandle<()>>> {
    let Some(cfg) = cfg else {
        return Ok(None);
    };
    let (host, port) = cfg
        .smtp
        .get_ref()
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .with_context(|| format!("[mail] smtp {:?}: host:port", cfg.smtp.get_ref()))?;
    let tls = notify::mail::MailTls::parse(cfg.tls.get_ref())
        .with_context(|| format!("[mail] tls {:?}: none, starttls or tls", cfg.tls.get_ref()))?;
    let from = cfg
        .from
        .get_ref()
        .parse()
        .with_context(|| format!("[mail] from {:?}", cfg.from.get_ref()))?;
    let settings = notify::mail::MailSettings {
        host,
        port,
        tls,
        from,
        base_url: cfg.base_url.clone(),
    };
    store.keep_mail(true);
    let (store, stop) = (store.clone(), stop.clone());
    let retry_max = std::time::Duration::from_millis(cfg.retry_max_ms.max(100));
    tracing::info!(smtp = %cfg.smtp.get_ref(), "customer notices go by mail");
    let thread = deaths.thread("mailer", move || {
        notify::mail::run_mailer(store, settings, stop, retry_max)
    })?;
    Ok(Some(thread))
}

/// The thread that POSTs customer notices to the tenants' webhooks (inventory `webhook`); it
/// runs always, since an inventory applied later may give a tenant one.
fn start_customer_hooks(
    cfg: &HubConfig,
    store: &Arc<Store>,
    stop: &Arc<AtomicBool>,
    deaths: &parts::Deaths,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let base_url = cfg
        .notify
        .base_url
        .clone()
        .or_else(|| cfg.mail.as_ref().map(|m| m.base_url.clone()))
        .unwrap_or_default();
    store.keep_customer_hooks(true);
    let (store, stop) = (store.clone(), stop.clone());
    let retry_max = std::time::Duration::from_millis(cfg.notify.retry_max_ms.max(100));
    Ok(deaths.thread("customer webhooks", move || {
        notify::customer_hook::run(store, base_url, stop, retry_max)
    })?)
}

/// With a webhook configured: the outbox thread and the channel that wakes it.
#[allow(clippy::type_complexity)]
fn start_notifier(
    cfg: &config::NotifyConfig,
    store: &Arc<Store>,
    stop: &Arc<AtomicBool>,
    deaths: &parts::Deaths,
) -> anyhow::Result<Option<(flume::Sender<()>, std::thread::JoinHandle<()>)>> {
    let (Some(url), Some(secret_file)) = (&cfg.webhook_url, &cfg.webhook_secret_file) else {
        return Ok(None);
    };
    let secret = std::fs::read(secret_file.get_ref()).with_context(|| {
        format!(
            "reading the webhook secret from {}",
            secret_file.get_ref().display()
        )
    })?;
    let secret = String::from_utf8_lossy(&secret).trim().as_bytes().to_vec();
    anyhow::ensure!(
        secret.len() >= 16,
        "the webhook secret in {} is shorter than 16 characters",
        secret_file.get_ref().display()
    );
    store.keep_notices(true);
    let webhook = notify::Webhook::new(notify::WebhookSettings {
        url: url.get_ref().clone(),
        secret,
        timeout: std::time::Duration::from_secs(10),
        language: cfg.language,
    });
    let (wake, woken) = flume::bounded(1);
    let (store, stop) = (store.clone(), stop.clone());
    let retry_max = std::time::Duration::from_millis(cfg.retry_max_ms.max(100));
    let language = cfg.language;
    tracing::info!(
        url = %notify::shown(url.get_ref()),
        "notifications go to the webhook"
    );
    let thread = deaths.thread("notifier", move || {
        notify::run_outbox(store, Box::new(webhook), woken, stop, retry_max, language)
    })?;
    Ok(Some((wake, thread)))
}

/// Runs a hub until `shutdown` resolves or a part of it dies, then stops it gracefully; a death
/// is the error (which part, why, what to do).
pub async fn run(config: HubConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let hub = Hub::start(config).await?;
    let died = tokio::select! {
        () = shutdown => None,
        death = hub.failed() => Some(death),
    };
    stop_after(hub, died).await
}

/// Shuts `hub` down; with a death, logs what the shutdown met and returns the death's advice.
pub async fn stop_after(hub: Hub, died: Option<parts::Death>) -> anyhow::Result<()> {
    tracing::info!("shutting down: draining in-flight reports");
    let shut = hub.shutdown().await;
    match died {
        None => shut,
        Some(death) => {
            if let Err(e) = shut {
                tracing::warn!(error = %format!("{e:#}"), "while stopping after the failure");
            }
            anyhow::bail!(death.advice())
        }
    }
}
