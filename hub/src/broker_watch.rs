//! Notices when the embedded broker breaks, so that the hub stops instead of running on deaf.
//!
//! rumqttd 0.20 runs each connection in a task of its own threads and cannot report a failure to
//! its host. One failure is known to be fatal: a client that reconnects with the id of a
//! connection the broker turned away (at `max_connections`, or dropped between CONNECT and
//! CONNACK) makes it panic while holding the lock of its last-will table (`server/broker.rs`); the
//! lock is poisoned and every later CONNECT on that listener panics: no device can connect until
//! the process restarts. A panic hook sees every panic raised inside rumqttd's code; the first one
//! is reported to [`failed`], and `run` then stops the hub gracefully with an error, so that a
//! service manager (`Restart=on-failure`) restarts it. Devices reconnect and their outboxes
//! deliver what they kept; nothing is lost, as the store and the outboxes are crash-safe.

use std::sync::{Once, OnceLock};
use tokio::sync::watch;

static FAILED: OnceLock<watch::Sender<Option<String>>> = OnceLock::new();
static HOOK: Once = Once::new();

fn channel() -> &'static watch::Sender<Option<String>> {
    FAILED.get_or_init(|| watch::channel(None).0)
}

/// Installs the panic hook (once per process); earlier hooks still run.
pub fn install() {
    channel();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(at) = info.location().filter(|l| is_broker_code(l.file())) {
                let what = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let why = format!("rumqttd panicked at {}:{}: {what}", at.file(), at.line());
                channel().send_if_modified(|slot| {
                    if slot.is_none() {
                        *slot = Some(why);
                        true
                    } else {
                        false
                    }
                });
            }
            previous(info);
        }));
    });
}

/// Whether a panic location is inside the broker crate's own source.
fn is_broker_code(file: &str) -> bool {
    file.contains("/rumqttd-") || file.contains("\\rumqttd-")
}

/// Resolves with the first broker failure of this process; never resolves without one.
pub async fn failed() -> String {
    let mut rx = channel().subscribe();
    match rx.wait_for(Option::is_some).await {
        Ok(why) => why.clone().unwrap_or_default(),
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_panics_in_the_broker_crate_count() {
        assert!(is_broker_code(
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rumqttd-0.20.0/src/server/broker.rs"
        ));
        assert!(!is_broker_code("hub/src/broker.rs"));
        assert!(!is_broker_code(
            "/root/.cargo/registry/src/x/rumqttc-0.25.0/src/eventloop.rs"
        ));
    }
}
