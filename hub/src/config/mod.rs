//! The hub's configuration file (`hub.toml`): one documented struct per component, with named
//! defaults. `heartline-hub init` writes a commented example, `check-config` validates one.

mod cluster;

pub use cluster::{ClusterConfig, SpannedError};

use heartline_engine::diagnostic::FileError;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    #[serde(default)]
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default)]
    pub notify: NotifyConfig,
    /// Customer notices by mail; none: no mail.
    pub mail: Option<MailConfig>,
    /// TLS for devices and the HTTP port; none: plain TCP only.
    pub tls: Option<TlsConfig>,
    /// The broker cluster this hub's node belongs to; none: a single node.
    pub cluster: Option<ClusterConfig>,
    /// Detection settings; see `detection_config`.
    #[serde(default)]
    pub engine: heartline_engine::detection_config::EngineSettings,
    #[serde(default)]
    pub rule: Vec<heartline_engine::detection_config::RuleSettings>,
    #[serde(default)]
    pub trend: Vec<heartline_engine::detection_config::TrendSettings>,
    #[serde(default)]
    pub maintenance: Vec<heartline_engine::detection_config::MaintenanceSettings>,
    /// The compiled detection settings (filled by `parse`).
    #[serde(skip)]
    pub detection: heartline_engine::EngineConfig,
    /// Inventory applied at start-up (relative paths are taken from the config file's folder).
    pub inventory: Option<PathBuf>,
}

/// The embedded MQTT broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// MQTT 3.1.1 listener.
    #[serde(default = "default_v4_listen")]
    pub v4_listen: Spanned<SocketAddr>,
    /// MQTT 5 listener (the broker needs one listener per protocol version).
    #[serde(default = "default_v5_listen")]
    pub v5_listen: Spanned<SocketAddr>,
    /// Device sessions this node holds (connected devices, and the persistent sessions of
    /// offline ones); a CONNECT past it is answered "server unavailable".
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Largest MQTT packet the broker accepts; larger ones cost the client its connection.
    #[serde(default = "default_max_packet_bytes")]
    pub max_packet_bytes: Spanned<usize>,
    /// Messages the broker queues for one device that is connected but not reading (or offline
    /// with a persistent session): acks and config. A device needs only its latest ack.
    #[serde(default = "default_device_queue")]
    pub device_queue: usize,
    /// Retained messages the broker keeps (about two per device: its presence and its config);
    /// past this, new topics are not retained. 0 = no limit.
    #[serde(default = "default_max_retained")]
    pub max_retained: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The redb file (relative paths are taken from the config file's folder).
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// Reports kept per device for charts and diagnosis; older ones are deleted.
    #[serde(default = "default_history_len")]
    pub history_len: u64,
    /// Memory for the store's page cache, in MiB: the hub's RSS includes up to this much once
    /// the file has grown past it (redb alone would take up to 1 GiB).
    #[serde(default = "default_cache_mb")]
    pub cache_mb: Spanned<u64>,
    /// Days a finished ticket (with its timeline), an audit record and an ended maintenance
    /// window are kept; older ones are removed hourly. 0 keeps everything.
    #[serde(default = "default_retention_days")]
    pub retention_days: Spanned<u64>,
}

impl StoreConfig {
    /// How long finished records are kept, in ms; `None` keeps them for ever.
    pub fn retention_ms(&self) -> Option<i64> {
        let days = *self.retention_days.get_ref();
        (days > 0).then(|| days as i64 * 86_400_000)
    }

    /// The page cache's bound in bytes.
    pub fn cache_bytes(&self) -> usize {
        usize::try_from(*self.cache_mb.get_ref() << 20).unwrap_or(usize::MAX)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Serves `/metrics` (Prometheus) and `/healthz`.
    #[serde(default = "default_http_listen")]
    pub listen: SocketAddr,
    /// An engineer's reported position older than this shows as stale on the map.
    #[serde(
        default = "default_position_stale",
        with = "humantime_serde_ms",
        rename = "position_stale"
    )]
    pub position_stale_ms: u64,
}

fn default_position_stale() -> u64 {
    15 * 60_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Reports larger than this are rejected as oversized (counted, not stored).
    #[serde(default = "default_max_report_bytes")]
    pub max_report_bytes: Spanned<usize>,
    /// Most messages committed in one store transaction.
    #[serde(default = "default_batch_max")]
    pub batch_max: usize,
    /// New reports accepted from one device per minute once its burst is spent; the excess is
    /// refused (counted as `rate_limited`, not acknowledged, so the device sends it again when it
    /// reconnects). 0 turns the limit off.
    #[serde(default = "default_max_reports_per_minute")]
    pub max_reports_per_minute: Spanned<i64>,
    /// Reports one device may send at once: at least an agent's outbox (10,000 by default), so
    /// that a device's backlog after an outage goes through.
    #[serde(default = "default_report_burst")]
    pub report_burst: Spanned<i64>,
    /// How long, in seconds, a skipped report holds back the device's ack: the device keeps it
    /// and sends it again (a forward between broker nodes failed, a queue overflowed). After that
    /// the hub stops waiting (the device dropped it). 0: acks never wait for a gap.
    #[serde(default = "default_gap_wait_s")]
    pub gap_wait_s: Spanned<i64>,
}

/// TLS with the hub's certificate and key from PEM files: MQTT over TLS for devices on its own
/// port, and HTTPS on the HTTP port (web view, JSON API, SSE, gRPC over HTTP/2 via ALPN).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The hub's certificate chain in PEM, leaf first (relative paths are taken from the config
    /// file's folder).
    pub cert_file: Spanned<PathBuf>,
    /// Its private key in PEM (PKCS#8, PKCS#1 or SEC1), unencrypted; readable by the hub only.
    pub key_file: Spanned<PathBuf>,
    /// MQTT over TLS, both 3.1.1 and 5 on this one port; none: no MQTT TLS listener.
    pub mqtt_listen: Option<Spanned<SocketAddr>>,
    /// Serve the HTTP port over HTTPS instead of plain HTTP.
    #[serde(default)]
    pub https: bool,
}

/// Notifications of dispatches and escalations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// POST each notice here as signed JSON; none: notices are only logged.
    pub webhook_url: Option<Spanned<String>>,
    /// File holding the webhook's HMAC secret (relative paths are taken from the config file's
    /// folder). Required with `webhook_url`.
    pub webhook_secret_file: Option<Spanned<PathBuf>>,
    /// Longest wait between two delivery attempts.
    #[serde(
        default = "default_retry_max",
        with = "humantime_serde_ms",
        rename = "retry_max"
    )]
    pub retry_max_ms: u64,
    /// The language of the webhook's notices (to engineers and managers): "zh-CN" or "en".
    #[serde(default)]
    pub language: crate::i18n::Lang,
    /// The web view's address as customers reach it, for the ticket link in the notices to the
    /// tenants' webhooks (inventory `webhook`); none: `[mail] base_url`, else a bare path.
    #[serde(default)]
    pub base_url: Option<String>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhook_url: None,
            webhook_secret_file: None,
            retry_max_ms: default_retry_max(),
            language: crate::i18n::Lang::default(),
            base_url: None,
        }
    }
}

/// `[mail]`: the customer's contacts (inventory `email` of each tenant) are told by mail, in the
/// tenant's language, when a fault is found, the engineer is on site, the repair is reported and
/// the device confirms it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// The SMTP relay, `host:port`.
    pub smtp: Spanned<String>,
    /// `none` (plain SMTP, a relay on the same host), `starttls` or `tls`.
    #[serde(default = "default_mail_tls")]
    pub tls: Spanned<String>,
    /// The sender, `Heartline <noreply@example.cn>`.
    pub from: Spanned<String>,
    /// The web view's address as customers reach it, for the link to the ticket.
    pub base_url: String,
    /// Longest wait between two attempts to send.
    #[serde(
        default = "default_retry_max",
        with = "humantime_serde_ms",
        rename = "retry_max"
    )]
    pub retry_max_ms: u64,
}

fn default_mail_tls() -> Spanned<String> {
    Spanned::new(0..0, "starttls".into())
}

fn default_retry_max() -> u64 {
    60_000
}

/// `"30s"`-style durations as milliseconds.
pub(crate) mod humantime_serde_ms {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim())
            .map(|d| d.as_millis() as u64)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a duration like \"30s\" or \"5m\": {e}"
                ))
            })
    }
}

fn default_v4_listen() -> Spanned<SocketAddr> {
    Spanned::new(0..0, ([0, 0, 0, 0], 1883).into())
}
fn default_v5_listen() -> Spanned<SocketAddr> {
    Spanned::new(0..0, ([0, 0, 0, 0], 1884).into())
}
fn default_max_connections() -> usize {
    100_000
}
fn default_max_packet_bytes() -> Spanned<usize> {
    Spanned::new(0..0, 64 * 1024)
}
fn default_device_queue() -> usize {
    16
}
fn default_max_retained() -> usize {
    1_000_000
}
fn default_store_path() -> PathBuf {
    PathBuf::from("heartline.redb")
}
fn default_history_len() -> u64 {
    1_000
}
fn default_cache_mb() -> Spanned<u64> {
    Spanned::new(0..0, (crate::store::DEFAULT_CACHE_BYTES >> 20) as u64)
}
fn default_retention_days() -> Spanned<u64> {
    Spanned::new(0..0, 1_095)
}
fn default_http_listen() -> SocketAddr {
    ([127, 0, 0, 1], 9090).into()
}
fn default_max_report_bytes() -> Spanned<usize> {
    Spanned::new(0..0, heartline_proto::wire::DEFAULT_MAX_PAYLOAD)
}
fn default_batch_max() -> usize {
    1_024
}
/// Above this a "limit" would not limit anything ingest can take from one device.
const MAX_REPORTS_PER_MINUTE: i64 = 1_000_000;

fn default_max_reports_per_minute() -> Spanned<i64> {
    Spanned::new(0..0, 600)
}
fn default_report_burst() -> Spanned<i64> {
    Spanned::new(0..0, 10_000)
}
/// Longer than a device needs to send a report again (an agent re-sends every 30 s).
fn default_gap_wait_s() -> Spanned<i64> {
    Spanned::new(0..0, 300)
}
/// A day: past it a skipped report is not coming.
const MAX_GAP_WAIT_S: i64 = 86_400;
/// 64 GiB: more page cache than that is a typo, not a plan.
const MAX_CACHE_MB: u64 = 65_536;
/// A hundred years: longer is a typo.
const MAX_RETENTION_DAYS: u64 = 36_500;

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            v4_listen: default_v4_listen(),
            v5_listen: default_v5_listen(),
            max_connections: default_max_connections(),
            max_packet_bytes: default_max_packet_bytes(),
            device_queue: default_device_queue(),
            max_retained: default_max_retained(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: default_store_path(),
            history_len: default_history_len(),
            cache_mb: default_cache_mb(),
            retention_days: default_retention_days(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_http_listen(),
            position_stale_ms: default_position_stale(),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_report_bytes: default_max_report_bytes(),
            batch_max: default_batch_max(),
            max_reports_per_minute: default_max_reports_per_minute(),
            report_burst: default_report_burst(),
            gap_wait_s: default_gap_wait_s(),
        }
    }
}

impl HubConfig {
    /// Reads, parses and validates a config file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<HubConfig, FileError> {
        let src = std::fs::read_to_string(path).map_err(|e| FileError::unreadable(path, &e))?;
        let mut config = HubConfig::parse(path, &src)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.store.path = base.join(&config.store.path);
        if let Some(inv) = &config.inventory {
            config.inventory = Some(base.join(inv));
        }
        if let Some(c) = &mut config.cluster {
            c.resolve(base);
            if let Err(e) = c.secret() {
                return Err(FileError::at(
                    path,
                    &src,
                    Some(c.secret_file.span()),
                    format!("{e:#}"),
                ));
            }
        }
        if let Some(secret) = &mut config.notify.webhook_secret_file {
            let span = secret.span();
            let full = base.join(secret.get_ref());
            if let Err(e) = std::fs::metadata(&full) {
                return Err(FileError::at(
                    path,
                    &src,
                    Some(span),
                    format!("webhook_secret_file {}: {e}", full.display()),
                ));
            }
            *secret = Spanned::new(span, full);
        }
        if let Some(tls) = &mut config.tls {
            for file in [&mut tls.cert_file, &mut tls.key_file] {
                let span = file.span();
                *file = Spanned::new(span, base.join(file.get_ref()));
            }
            let (cert, key) = (&tls.cert_file, &tls.key_file);
            if let Err(e) = crate::tls::identity::Identity::load(cert.get_ref(), key.get_ref()) {
                let span = if &e.path == key.get_ref() {
                    key.span()
                } else {
                    cert.span()
                };
                return Err(FileError::at(path, &src, Some(span), e.to_string()));
            }
        }
        Ok(config)
    }

    /// Parses and validates config text; `path` is only used in error messages.
    pub fn parse(path: &Path, src: &str) -> Result<HubConfig, FileError> {
        let mut config: HubConfig =
            toml::from_str(src).map_err(|e| FileError::from_toml(path, src, &e))?;
        config.detection = heartline_engine::detection_config::compile(
            path,
            src,
            &config.engine,
            &config.rule,
            &config.trend,
            &config.maintenance,
        )?;
        let at = |span: std::ops::Range<usize>, msg: String| {
            FileError::at(path, src, (span != (0..0)).then_some(span), msg)
        };
        let m = &config.mqtt;
        if m.v4_listen.get_ref() == m.v5_listen.get_ref() && m.v4_listen.get_ref().port() != 0 {
            return Err(at(
                m.v5_listen.span(),
                format!(
                    "v5_listen {} is also v4_listen: give each listener its own port (both \
                     accept MQTT 3.1.1 and 5)",
                    m.v5_listen.get_ref()
                ),
            ));
        }
        if let Some(c) = &config.cluster {
            c.nodes().map_err(|(span, msg)| at(span, msg))?;
        }
        if let Some(tls) = &config.tls {
            match &tls.mqtt_listen {
                None if !tls.https => {
                    return Err(at(
                        tls.cert_file.span(),
                        "[tls] serves nothing: set mqtt_listen = \"0.0.0.0:8883\" for devices, \
                         https = true for the web view and API, or both"
                            .into(),
                    ));
                }
                Some(tls_listen) => {
                    let taken = [
                        ("mqtt.v4_listen", *m.v4_listen.get_ref()),
                        ("mqtt.v5_listen", *m.v5_listen.get_ref()),
                        ("http.listen", config.http.listen),
                    ];
                    let a = *tls_listen.get_ref();
                    if let Some((name, _)) = taken.iter().find(|(_, b)| *b == a && a.port() != 0) {
                        return Err(at(
                            tls_listen.span(),
                            format!(
                                "mqtt_listen {a} is also {name}: MQTT over TLS needs its own port (8883 is usual)"
                            ),
                        ));
                    }
                }
                None => {}
            }
        }
        let n = &config.notify;
        match (&n.webhook_url, &n.webhook_secret_file) {
            (Some(url), _)
                if !(url.get_ref().starts_with("http://")
                    || url.get_ref().starts_with("https://")) =>
            {
                return Err(at(
                    url.span(),
                    format!(
                        "webhook_url {:?} must start with http:// or https://",
                        url.get_ref()
                    ),
                ));
            }
            (Some(url), None) => {
                return Err(at(url.span(), "webhook_url needs webhook_secret_file: the file with the secret that signs each POST".into()));
            }
            (None, Some(file)) => {
                return Err(at(
                    file.span(),
                    "webhook_secret_file without webhook_url".into(),
                ));
            }
            _ => {}
        }
        let report = *config.ingest.max_report_bytes.get_ref();
        if report == 0 {
            return Err(at(
                config.ingest.max_report_bytes.span(),
                "max_report_bytes must be above 0".into(),
            ));
        }
        let rate = &config.ingest.max_reports_per_minute;
        if !(0..=MAX_REPORTS_PER_MINUTE).contains(rate.get_ref()) {
            return Err(at(
                rate.span(),
                format!(
                    "max_reports_per_minute = {} is out of range: use a number of reports per \
                     device per minute from 1 to {MAX_REPORTS_PER_MINUTE}, or 0 for no limit",
                    rate.get_ref()
                ),
            ));
        }
        let burst = &config.ingest.report_burst;
        if !(1..=MAX_REPORTS_PER_MINUTE).contains(burst.get_ref()) {
            return Err(at(
                burst.span(),
                format!(
                    "report_burst = {} is out of range: use a number of reports from 1 to \
                     {MAX_REPORTS_PER_MINUTE}, at least what a device's outbox holds",
                    burst.get_ref()
                ),
            ));
        }
        let cache = &config.store.cache_mb;
        if !(1..=MAX_CACHE_MB).contains(cache.get_ref()) {
            return Err(at(
                cache.span(),
                format!(
                    "cache_mb = {} is out of range: use MiB from 1 to {MAX_CACHE_MB} (the store's \
                     page cache; the default is {})",
                    cache.get_ref(),
                    *default_cache_mb().get_ref()
                ),
            ));
        }
        let keep = &config.store.retention_days;
        if *keep.get_ref() > MAX_RETENTION_DAYS {
            return Err(at(
                keep.span(),
                format!(
                    "retention_days = {} is out of range: use days from 1 to {MAX_RETENTION_DAYS} \
                     (finished tickets and audit records older than that are removed), or 0 to \
                     keep everything; the default is {}",
                    keep.get_ref(),
                    *default_retention_days().get_ref()
                ),
            ));
        }
        let wait = &config.ingest.gap_wait_s;
        if !(0..=MAX_GAP_WAIT_S).contains(wait.get_ref()) {
            return Err(at(
                wait.span(),
                format!(
                    "gap_wait_s = {} is out of range: use seconds from 1 to {MAX_GAP_WAIT_S} \
                     (longer than a device takes to send a missed report again), or 0 not to wait",
                    wait.get_ref()
                ),
            ));
        }
        if *m.max_packet_bytes.get_ref() <= report {
            return Err(at(
                m.max_packet_bytes.span(),
                format!(
                    "max_packet_bytes ({}) must exceed ingest.max_report_bytes ({report}), so that \
                     oversized reports reach the hub and are counted instead of cutting the connection",
                    m.max_packet_bytes.get_ref()
                ),
            ));
        }
        Ok(config)
    }

    /// A config for tests and tools: every listener on an ephemeral loopback port, the store at
    /// `store`.
    pub fn ephemeral(store: PathBuf) -> HubConfig {
        let any = |_| Spanned::new(0..0, SocketAddr::from(([127, 0, 0, 1], 0)));
        HubConfig {
            mqtt: MqttConfig {
                v4_listen: any(()),
                v5_listen: any(()),
                ..MqttConfig::default()
            },
            store: StoreConfig {
                path: store,
                ..StoreConfig::default()
            },
            http: HttpConfig {
                listen: ([127, 0, 0, 1], 0).into(),
                ..HttpConfig::default()
            },
            ingest: IngestConfig::default(),
            notify: NotifyConfig::default(),
            mail: None,
            tls: None,
            cluster: None,
            engine: Default::default(),
            rule: Vec::new(),
            trend: Vec::new(),
            maintenance: Vec::new(),
            detection: heartline_engine::EngineConfig::default(),
            inventory: None,
        }
    }
}
