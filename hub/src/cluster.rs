//! The device directory shared with broker-only nodes: the hub serves who may log in
//! (`GET /cluster/v1/directory`, behind the cluster's shared secret), and each broker node
//! (`heartline-hub broker`) fetches it at start and again whenever it changed, so an inventory
//! applied on the hub reaches every node within its refresh period.
//!
//! Only what connect-time checks need crosses: device id, tenant and the SHA-256 of the token.
//! Signing keys stay on the hub (only ingest verifies signatures).

use crate::directory::Directory;
use crate::store::{DeviceRecord, DeviceSecrets};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use heartline_engine::DeviceInfo;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

pub const DIRECTORY_PATH: &str = "/cluster/v1/directory";

/// One device as broker nodes know it.
#[derive(Serialize, Deserialize)]
struct Entry {
    id: String,
    tenant: String,
    token_sha256: String,
}

#[derive(Serialize, Deserialize)]
struct Listing {
    generation: u64,
    devices: Vec<Entry>,
}

#[derive(Deserialize)]
struct Since {
    since: Option<u64>,
}

#[derive(Clone)]
struct Shared {
    directory: Directory,
    secret: Arc<String>,
}

/// The hub's side: the directory for nodes that present `secret`.
pub fn router(directory: Directory, secret: String) -> Router {
    Router::new()
        .route(DIRECTORY_PATH, get(listing))
        .with_state(Shared {
            directory,
            secret: Arc::new(secret),
        })
}

fn authorized(headers: &HeaderMap, secret: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    given.len() == secret.len() && bool::from(given.as_bytes().ct_eq(secret.as_bytes()))
}

async fn listing(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<Since>) -> Response {
    if !authorized(&headers, &s.secret) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({
                "error": "a broker node must send the cluster's secret (Authorization: Bearer …)"
            })),
        )
            .into_response();
    }
    let generation = s.directory.generation();
    if q.since == Some(generation) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let devices = s
        .directory
        .all()
        .iter()
        .map(|d| Entry {
            id: d.info.id.clone(),
            tenant: d.info.tenant.clone(),
            token_sha256: hex::encode(d.secrets.token_sha256),
        })
        .collect();
    axum::Json(Listing {
        generation,
        devices,
    })
    .into_response()
}

/// A broker node's side: fetches the directory from the hub at `url`.
pub struct Follower {
    agent: ureq::Agent,
    url: String,
    secret: String,
    seen: Option<u64>,
}

impl Follower {
    pub fn new(hub_url: &str, secret: String) -> Follower {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        Follower {
            agent,
            url: format!("{}{DIRECTORY_PATH}", hub_url.trim_end_matches('/')),
            secret,
            seen: None,
        }
    }

    /// Fetches the directory if it changed since the last fetch and puts it into `directory`;
    /// returns how many devices it holds now, or `None` when nothing changed.
    pub fn refresh(&mut self, directory: &Directory) -> anyhow::Result<Option<usize>> {
        let mut req = self
            .agent
            .get(&self.url)
            .header("authorization", &format!("Bearer {}", self.secret));
        if let Some(g) = self.seen {
            req = req.query("since", g.to_string());
        }
        let mut resp = req
            .call()
            .map_err(|e| anyhow::anyhow!("fetching the device directory from {}: {e}", self.url))?;
        match resp.status().as_u16() {
            204 => return Ok(None),
            200 => {}
            401 => anyhow::bail!(
                "the hub at {} refused this node's cluster secret: use the same secret_file as the hub",
                self.url
            ),
            code => anyhow::bail!("the hub at {} answered HTTP {code}", self.url),
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .map_err(|e| anyhow::anyhow!("reading the device directory from {}: {e}", self.url))?;
        let listing: Listing = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!("the device directory from {} is malformed: {e}", self.url)
        })?;
        let mut devices = Vec::with_capacity(listing.devices.len());
        for e in listing.devices {
            let mut token_sha256 = [0u8; 32];
            hex::decode_to_slice(&e.token_sha256, &mut token_sha256)
                .map_err(|_| anyhow::anyhow!("device {} has a malformed token hash", e.id))?;
            devices.push(DeviceRecord {
                info: DeviceInfo {
                    id: e.id,
                    tenant: e.tenant,
                    project: String::new(),
                    site: String::new(),
                    kind: String::new(),
                    uplink: None,
                },
                secrets: DeviceSecrets {
                    key: [0; 32],
                    token_sha256,
                },
            });
        }
        let n = devices.len();
        directory.replace(devices);
        self.seen = Some(listing.generation);
        Ok(Some(n))
    }
}
