//! The delivery loop every outbox shares (the operator's webhook, customer mail, the tenants'
//! webhooks): rows oldest first, each removed once delivered; a failure that may pass backs off
//! exponentially (up to `retry_max`) and holds back the rows behind it *in the same lane* (one
//! receiver: a tenant's webhook, say) so their order is kept, while other lanes go on; a failure
//! that will not pass (a 4xx, a 5xx from a mail relay) drops the row with an error log.

use crate::store::{Outbox, Store};
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Why a row was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It may work later (receiver down, 5xx, timeout): retried with backoff.
    Later(String),
    /// It never will (the receiver refused it for good): dropped and logged.
    Never(String),
}

const FIRST_RETRY: Duration = Duration::from_millis(200);
const PAGE: usize = 64;
/// How often an idle loop looks for new rows when nothing wakes it.
const IDLE: Duration = Duration::from_millis(200);

/// One outbox's delivery settings.
pub struct Drain {
    pub outbox: Outbox,
    /// What the log lines call a row: "notification", "customer mail", ….
    pub what: &'static str,
    pub retry_max: Duration,
    pub stop: Arc<AtomicBool>,
    /// Wakes an idle loop at once (ingest sends after a commit that queued rows).
    pub wake: Option<flume::Receiver<()>>,
}

impl Drain {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Waits `d`, or less when stopped or woken.
    fn pause(&self, d: Duration) {
        let deadline = Instant::now() + d;
        while !self.stopped() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let step = left.min(Duration::from_millis(50));
            match &self.wake {
                Some(w) if w.recv_timeout(step).is_ok() => return,
                Some(_) => {}
                None => std::thread::sleep(step),
            }
        }
    }

    /// Delivers rows with `deliver` until stopped; `lane` names a row's receiver.
    pub fn run<T: DeserializeOwned>(
        &self,
        store: &Store,
        lane: impl Fn(&T) -> String,
        mut deliver: impl FnMut(u64, &T) -> Result<(), Failure>,
    ) {
        // A lane that failed: not before when, and the backoff that got it there.
        let mut waiting: HashMap<String, (Instant, Duration)> = HashMap::new();
        while !self.stopped() {
            let now = Instant::now();
            let mut failed_now = HashSet::new();
            let mut tried = false;
            let mut after = 0;
            loop {
                let page = match store.outbox_page::<T>(self.outbox, after, PAGE) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(error = %e, outbox = self.what, "cannot read the outbox");
                        self.pause(self.retry_max);
                        break;
                    }
                };
                let Some(&(last, _)) = page.last() else {
                    break;
                };
                after = last;
                for (id, row) in page {
                    if self.stopped() {
                        return;
                    }
                    let lane = lane(&row);
                    let held = failed_now.contains(&lane)
                        || waiting.get(&lane).is_some_and(|(at, _)| now < *at);
                    if held {
                        continue;
                    }
                    tried = true;
                    match deliver(id, &row) {
                        Ok(()) => {
                            waiting.remove(&lane);
                            self.remove(store, id);
                        }
                        Err(Failure::Never(why)) => {
                            tracing::error!(
                                id,
                                lane = %lane,
                                error = %why,
                                "{} refused for good and dropped: check the receiver's address \
                                 in the configuration or inventory",
                                self.what
                            );
                            waiting.remove(&lane);
                            self.remove(store, id);
                        }
                        Err(Failure::Later(why)) => {
                            let backoff = waiting
                                .get(&lane)
                                .map_or(FIRST_RETRY, |(_, b)| (*b * 2).min(self.retry_max));
                            tracing::warn!(
                                id,
                                lane = %lane,
                                retry_in_ms = backoff.as_millis() as u64,
                                error = %why,
                                "{} not delivered; will retry",
                                self.what
                            );
                            waiting.insert(lane.clone(), (Instant::now() + backoff, backoff));
                            failed_now.insert(lane);
                        }
                    }
                }
            }
            if !tried {
                let next_retry = waiting
                    .values()
                    .map(|(at, _)| at.saturating_duration_since(Instant::now()))
                    .min()
                    .unwrap_or(IDLE);
                self.pause(next_retry.clamp(Duration::from_millis(10), IDLE));
            }
        }
    }

    fn remove(&self, store: &Store, id: u64) {
        if let Err(e) = store.outbox_remove(self.outbox, id) {
            tracing::error!(error = %e, id, outbox = self.what, "delivered, but cannot remove it from the outbox; it will be sent again with the same key");
        }
    }
}
