//! The one place where the hub's long-running parts (broker, ingest, store, notifier, HTTP,
//! control socket, MQTT over TLS) report that they died, so that `run` can say which part died
//! and why, stop the rest gracefully and exit non-zero for a service manager to restart it.
//! A part that ends while the hub is not stopping is a death too: nothing of the hub is meant
//! to end on its own.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

/// A part of the hub that died, and why. The first death is kept; later ones follow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    pub part: &'static str,
    pub why: String,
}

impl Death {
    /// What the operator reads: which part, why, and what to do.
    pub fn advice(&self) -> String {
        let what = match self.part {
            "store" => "free space on its disk and start the hub again",
            "broker" => {
                "devices cannot reach the hub until it restarts: start it again (a service \
                 manager with Restart=on-failure does)"
            }
            _ => "start the hub again (a service manager with Restart=on-failure does)",
        };
        let part = match self.part {
            "store" => "the store failed a write",
            "broker" => "the embedded MQTT broker failed",
            other => return format!("the hub's {other} died ({}); {what}", self.why),
        };
        format!("{part} ({}); {what}", self.why)
    }
}

/// Where deaths are reported; cheap to clone, one per part.
#[derive(Clone)]
pub struct Deaths {
    tx: Arc<watch::Sender<Option<Death>>>,
    stopping: Arc<AtomicBool>,
}

impl Deaths {
    /// `stopping` is set when the hub shuts down: parts that end after it did not die.
    pub fn new(stopping: Arc<AtomicBool>) -> Deaths {
        Deaths {
            tx: Arc::new(watch::channel(None).0),
            stopping,
        }
    }

    /// Records that `part` died; the first report wins.
    pub fn report(&self, part: &'static str, why: impl Into<String>) {
        let why = why.into();
        tracing::error!(part, why = %why, "a part of the hub died");
        self.tx.send_if_modified(|d| {
            if d.is_some() {
                return false;
            }
            *d = Some(Death { part, why });
            true
        });
    }

    /// Resolves with the first death; never resolves while every part lives.
    pub async fn first(&self) -> Death {
        let mut rx = self.tx.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(d) => d.clone().expect("waited for Some"),
            Err(_) => std::future::pending().await,
        }
    }

    /// The first death so far, if any.
    pub fn current(&self) -> Option<Death> {
        self.tx.borrow().clone()
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Runs `body` on a named thread; a panic, or an end while the hub is not stopping, is
    /// reported as the death of `part`.
    pub fn thread(
        &self,
        part: &'static str,
        body: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let deaths = self.clone();
        std::thread::Builder::new()
            .name(part.replace(' ', "-"))
            .spawn(
                move || match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
                    Ok(()) if !deaths.stopping() => deaths.report(part, "it stopped"),
                    Ok(()) => {}
                    Err(panic) => {
                        deaths.report(part, format!("panicked: {}", panic_message(&*panic)));
                        std::panic::resume_unwind(panic)
                    }
                },
            )
    }

    /// Spawns `task` on tokio; a panic, or an end while the hub is not stopping, is reported
    /// as the death of `part`. The handle yields the task's own output.
    pub fn spawn<F>(&self, part: &'static str, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Outcome + Send + 'static,
    {
        let deaths = self.clone();
        // Aborting the returned handle aborts the task itself too.
        let inner = AbortOnDrop(tokio::spawn(task));
        tokio::spawn(async move {
            let mut inner = inner;
            match (&mut inner.0).await {
                Ok(out) => {
                    if !deaths.stopping() {
                        deaths.report(part, out.why());
                    }
                    out
                }
                Err(e) if e.is_panic() => {
                    let panic = e.into_panic();
                    deaths.report(part, format!("panicked: {}", panic_message(&*panic)));
                    std::panic::resume_unwind(panic)
                }
                Err(e) => {
                    deaths.report(part, format!("cancelled: {e}"));
                    std::panic::resume_unwind(Box::new(e.to_string()))
                }
            }
        })
    }
}

/// A task handle that aborts its task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a part's end reads in the log.
pub trait Outcome {
    fn why(&self) -> String;
}

impl Outcome for () {
    fn why(&self) -> String {
        "it stopped".into()
    }
}

impl<E: std::fmt::Display> Outcome for Result<(), E> {
    fn why(&self) -> String {
        match self {
            Ok(()) => "it stopped".into(),
            Err(e) => format!("{e:#}"),
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Fault injection for the tests that check the above with the real binary: with the
/// `fault-injection` feature, `HEARTLINE_FAULT=<part>` makes that part fail once it runs.
/// Without the feature (a release build of `heartline-hub`) this is always false.
pub fn injected(part: &str) -> bool {
    cfg!(feature = "fault-injection")
        && std::env::var("HEARTLINE_FAULT").is_ok_and(|v| v.split(',').any(|p| p.trim() == part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_death_is_kept_and_a_stopping_hub_reports_none() {
        let stopping = Arc::new(AtomicBool::new(false));
        let deaths = Deaths::new(stopping.clone());
        let t = deaths
            .thread("ingest", || panic!("index out of bounds"))
            .unwrap();
        assert!(t.join().is_err());
        let first = deaths.first().await;
        assert_eq!(first.part, "ingest");
        assert!(first.why.contains("index out of bounds"), "{}", first.why);
        // A later death does not replace it.
        let h = deaths.spawn("http", async { Err::<(), _>("accept failed") });
        assert_eq!(h.await.unwrap(), Err("accept failed"));
        assert_eq!(deaths.first().await, first);
        assert!(first.advice().contains("ingest died"), "{}", first.advice());

        // While stopping, parts that end are not deaths.
        let calm = Deaths::new(stopping.clone());
        stopping.store(true, Ordering::Release);
        calm.thread("notifier", || {}).unwrap().join().unwrap();
        calm.spawn("http", async {}).await.unwrap();
        assert_eq!(calm.current(), None, "a stop was taken for a death");
    }
}
