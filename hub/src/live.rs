//! The channels between the API and the ingest thread: ticket actions go in (answered once the
//! change is committed), committed ticket changes come out to every live watcher, and the
//! [`Board`] holds every device's current status with a numbered stream of what changed (for the
//! web view's Server-Sent Events, replayable from a `Last-Event-ID`).

use crate::engine::{Actor, Ms, Ticket, TicketAction, TicketError, TicketId};
use heartline_proto::DeviceStatus;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{broadcast, oneshot};

/// How many recent changes a reconnecting page can catch up on.
pub const REPLAY: usize = 10_000;

/// A device as the project view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceView {
    pub status: DeviceStatus,
    pub last_report_ms: Ms,
}

/// Something on a project changed: pages of that project re-read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub seq: u64,
    pub at_ms: Ms,
    pub tenant: String,
    pub project: String,
    /// "device" or "ticket".
    pub kind: &'static str,
    pub id: String,
}

/// Every device's status, written by ingest after each commit; and the changes, numbered.
pub struct Board {
    devices: RwLock<HashMap<String, DeviceView>>,
    recent: Mutex<VecDeque<Change>>,
    changes: broadcast::Sender<Change>,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            devices: RwLock::default(),
            recent: Mutex::default(),
            changes: broadcast::channel(WATCH_BUFFER).0,
        }
    }
}

impl Board {
    pub fn device(&self, id: &str) -> Option<DeviceView> {
        self.devices.read().ok()?.get(id).copied()
    }

    /// Sets a device's view; `true` when it changed.
    pub fn set_device(&self, id: &str, view: DeviceView) -> bool {
        let mut map = self.devices.write().unwrap_or_else(|e| e.into_inner());
        map.insert(id.to_string(), view) != Some(view)
    }

    /// Numbers a change, keeps it for replay, and tells every watcher.
    pub fn publish(&self, at_ms: Ms, tenant: &str, project: &str, kind: &'static str, id: &str) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let seq = recent.back().map_or(1, |c| c.seq + 1);
        let change = Change {
            seq,
            at_ms,
            tenant: tenant.to_string(),
            project: project.to_string(),
            kind,
            id: id.to_string(),
        };
        if recent.len() == REPLAY {
            recent.pop_front();
        }
        recent.push_back(change.clone());
        // Sent under the lock, so watchers see changes in sequence order.
        let _ = self.changes.send(change);
    }

    /// Subscribes, and returns what happened after `after` (`None` when it is too old to replay).
    pub fn watch_from(&self, after: u64) -> (broadcast::Receiver<Change>, Option<Vec<Change>>) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.changes.subscribe();
        let oldest = recent.front().map_or(u64::MAX, |c| c.seq);
        let missed = if after + 1 >= oldest || recent.is_empty() {
            Some(recent.iter().filter(|c| c.seq > after).cloned().collect())
        } else {
            None
        };
        (rx, missed)
    }

    /// The number of the latest change (0 before any).
    pub fn last_seq(&self) -> u64 {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.back().map_or(0, |c| c.seq)
    }
}

/// How many committed ticket changes a slow watcher may fall behind before it must reload.
pub const WATCH_BUFFER: usize = 4096;

/// A person's action on a ticket, or a customer's report of a problem, for the ingest thread
/// (the only writer of tickets).
pub struct TicketCommand {
    pub request: Request,
    pub reply: oneshot::Sender<Result<Reply, CommandError>>,
}

/// What a committed request gives back.
pub enum Reply {
    Ticket(Box<Ticket>),
    Done,
}

pub enum Request {
    Act {
        id: TicketId,
        action: TicketAction,
        actor: Actor,
    },
    /// A customer says something is wrong with a device.
    Report {
        device: String,
        text: String,
        user: String,
    },
    /// The operator plans work: nothing opens for the scope meanwhile.
    Maintenance(crate::engine::Maintenance),
}

/// Why a ticket action did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Refused(#[from] TicketError),
    #[error("the change could not be stored ({0}); try again")]
    Store(String),
    #[error("the hub is shutting down")]
    Stopped,
    #[error("the hub did not apply the action within {0:?}; it may be overloaded, try again")]
    Timeout(std::time::Duration),
}

/// Longest an API caller waits for its action to be applied and committed.
pub const ACT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The API's side of the channels.
#[derive(Clone)]
pub struct Live {
    commands: flume::Sender<TicketCommand>,
    tickets: broadcast::Sender<Arc<Ticket>>,
    pub board: Arc<Board>,
}

/// The ingest thread's side.
pub struct LiveIngest {
    pub commands: flume::Receiver<TicketCommand>,
    pub tickets: broadcast::Sender<Arc<Ticket>>,
    pub board: Arc<Board>,
}

pub fn channels() -> (Live, LiveIngest) {
    let (ctx, crx) = flume::bounded(1024);
    let (ttx, _) = broadcast::channel(WATCH_BUFFER);
    let board = Arc::new(Board::default());
    (
        Live {
            commands: ctx,
            tickets: ttx.clone(),
            board: board.clone(),
        },
        LiveIngest {
            commands: crx,
            tickets: ttx,
            board,
        },
    )
}

impl Live {
    /// Applies an action and returns the ticket as committed.
    pub async fn act(
        &self,
        id: TicketId,
        action: TicketAction,
        actor: Actor,
    ) -> Result<Ticket, CommandError> {
        self.ticket(Request::Act { id, action, actor }).await
    }

    /// Adds a maintenance window, once committed.
    pub async fn maintenance(&self, m: crate::engine::Maintenance) -> Result<(), CommandError> {
        self.request(Request::Maintenance(m)).await.map(|_| ())
    }

    /// A customer's report: the ticket it joined or opened.
    pub async fn report(
        &self,
        device: String,
        text: String,
        user: String,
    ) -> Result<Ticket, CommandError> {
        self.ticket(Request::Report { device, text, user }).await
    }

    async fn ticket(&self, request: Request) -> Result<Ticket, CommandError> {
        match self.request(request).await? {
            Reply::Ticket(t) => Ok(*t),
            Reply::Done => Err(CommandError::Stopped),
        }
    }

    async fn request(&self, request: Request) -> Result<Reply, CommandError> {
        let (reply, answer) = oneshot::channel();
        let cmd = TicketCommand { request, reply };
        let applied = async {
            self.commands
                .send_async(cmd)
                .await
                .map_err(|_| CommandError::Stopped)?;
            answer.await.map_err(|_| CommandError::Stopped)?
        };
        tokio::time::timeout(ACT_TIMEOUT, applied)
            .await
            .map_err(|_| CommandError::Timeout(ACT_TIMEOUT))?
    }

    /// Every ticket change from now on, as committed.
    pub fn watch(&self) -> broadcast::Receiver<Arc<Ticket>> {
        self.tickets.subscribe()
    }
}
