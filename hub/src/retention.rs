//! The retention thread: at start-up and then every hour, removes from the store what finished
//! longer ago than `[store] retention_days` (`Store::prune`), never anything the engine may still
//! reopen.

use crate::store::{PRUNE_BATCH, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often retention runs after the first time.
const EVERY: Duration = Duration::from_secs(3600);
/// How often the thread looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Runs until `stop` is set. `keep_ms` is the retention period; `reopen_window_ms` the engine's,
/// plus an hour: a ticket is removed only once it can no longer come back.
pub fn run(store: Arc<Store>, keep_ms: i64, reopen_window_ms: i64, stop: Arc<AtomicBool>) {
    let keep = keep_ms.max(reopen_window_ms + 3_600_000);
    let mut next = Instant::now();
    while !stop.load(Ordering::Acquire) {
        if Instant::now() >= next {
            next = Instant::now() + EVERY;
            let now = crate::audit::now_ms();
            match store.prune(now - keep, now, PRUNE_BATCH) {
                Ok(p) if p.is_empty() => {}
                Ok(p) => tracing::info!(
                    tickets = p.tickets,
                    audit_records = p.audit,
                    maintenance_windows = p.maintenance,
                    days = keep / 86_400_000,
                    "retention removed what finished before the retention period"
                ),
                Err(e) => tracing::error!(
                    error = %e,
                    "retention could not prune the store; it tries again in an hour"
                ),
            }
        }
        std::thread::sleep(STOP_POLL);
    }
}
