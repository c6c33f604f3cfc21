//! The channels between the API and the ingest thread: ticket actions go in (answered once the
//! change is committed), committed ticket changes come out to every live watcher, and the
//! [`Board`] holds every device's current status with a numbered stream of what changed (for the
//! web view's Server-Sent Events, replayable from a `Last-Event-ID`).

use heartline_engine::{Actor, Ms, Ticket, TicketAction, TicketError, TicketId};
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
    /// The number among all changes (the operator's staff see these).
    #[serde(skip)]
    pub seq: u64,
    /// The number among the changes of this tenant (its customers see these).
    #[serde(skip)]
    pub tenant_seq: u64,
    pub at_ms: Ms,
    pub tenant: String,
    pub project: String,
    /// "device" or "ticket".
    pub kind: &'static str,
    pub id: String,
}

/// How a viewer's event ids count. The operator's staff (operators, engineers) see every change
/// numbered in one sequence; a customer sees its tenant's changes numbered on their own, so the
/// gaps between its ids reveal nothing of other tenants' activity.
#[derive(Debug, Clone, Copy)]
pub enum Numbering<'a> {
    All,
    Tenant(&'a str),
}

impl Change {
    /// This change's event id for a viewer counting by `n`.
    pub fn number(&self, n: Numbering) -> u64 {
        match n {
            Numbering::All => self.seq,
            Numbering::Tenant(_) => self.tenant_seq,
        }
    }
}

/// The changes kept for replay, and the latest number of each tenant.
#[derive(Default)]
struct Recent {
    changes: VecDeque<Change>,
    tenants: HashMap<String, u64>,
}

/// Every device's status, written by ingest after each commit; and the changes, numbered.
pub struct Board {
    devices: RwLock<HashMap<String, DeviceView>>,
    recent: Mutex<Recent>,
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
        let seq = recent.changes.back().map_or(1, |c| c.seq + 1);
        let tenant_seq = {
            let n = recent.tenants.entry(tenant.to_string()).or_default();
            *n += 1;
            *n
        };
        let change = Change {
            seq,
            tenant_seq,
            at_ms,
            tenant: tenant.to_string(),
            project: project.to_string(),
            kind,
            id: id.to_string(),
        };
        if recent.changes.len() == REPLAY {
            recent.changes.pop_front();
        }
        recent.changes.push_back(change.clone());
        // Sent under the lock, so watchers see changes in sequence order.
        let _ = self.changes.send(change);
    }

    /// Subscribes, and returns what happened after the change numbered `after` in `numbering`
    /// (`None` when that is too old to replay). Under `Numbering::Tenant` only that tenant's
    /// changes come back; the caller still filters by what the viewer may see.
    pub fn watch_from(
        &self,
        after: u64,
        numbering: Numbering,
    ) -> (broadcast::Receiver<Change>, Option<Vec<Change>>) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.changes.subscribe();
        let latest = Self::latest(&recent, numbering);
        let counted = |c: &&Change| match numbering {
            Numbering::All => true,
            Numbering::Tenant(t) => c.tenant == t,
        };
        let oldest = recent
            .changes
            .iter()
            .find(counted)
            .map(|c| c.number(numbering));
        let missed = if after >= latest {
            Some(Vec::new())
        } else if oldest.is_some_and(|o| after + 1 >= o) {
            Some(
                recent
                    .changes
                    .iter()
                    .filter(counted)
                    .filter(|c| c.number(numbering) > after)
                    .cloned()
                    .collect(),
            )
        } else {
            None
        };
        (rx, missed)
    }

    fn latest(recent: &Recent, numbering: Numbering) -> u64 {
        match numbering {
            Numbering::All => recent.changes.back().map_or(0, |c| c.seq),
            Numbering::Tenant(t) => recent.tenants.get(t).copied().unwrap_or(0),
        }
    }

    /// The number of the latest change in `numbering` (0 before any).
    pub fn last_number(&self, numbering: Numbering) -> u64 {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        Self::latest(&recent, numbering)
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
    Maintenance(heartline_engine::Maintenance),
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
    pub async fn maintenance(&self, m: heartline_engine::Maintenance) -> Result<(), CommandError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_replays_its_own_changes_numbered_on_their_own() {
        let board = Board::default();
        for i in 0..6 {
            let tenant = if i % 3 == 0 { "acme" } else { "globex" };
            board.publish(i, tenant, "p", "ticket", &i.to_string());
        }
        let acme = Numbering::Tenant("acme");
        // acme's changes are 1 and 2 in its own numbering (6 in all).
        assert_eq!(board.last_number(acme), 2);
        assert_eq!(board.last_number(Numbering::All), 6);
        let (_, missed) = board.watch_from(1, acme);
        let missed = missed.unwrap();
        assert_eq!(missed.len(), 1);
        assert_eq!(
            (missed[0].tenant.as_str(), missed[0].number(acme)),
            ("acme", 2)
        );
        // Up to date, or from now: nothing to replay.
        assert_eq!(board.watch_from(2, acme).1, Some(Vec::new()));
        assert_eq!(board.watch_from(u64::MAX - 1, acme).1, Some(Vec::new()));
        // A tenant with no changes yet.
        assert_eq!(
            board.watch_from(0, Numbering::Tenant("new")).1,
            Some(Vec::new())
        );

        // Once acme's older changes are gone from the replay buffer, an old id means reload.
        for i in 0..REPLAY as i64 {
            board.publish(100 + i, "globex", "p", "device", "d");
        }
        board.publish(1, "acme", "p", "ticket", "x");
        assert_eq!(
            board.watch_from(1, acme).1,
            None,
            "acme's change 2 was lost"
        );
        let (_, latest) = board.watch_from(2, acme);
        assert_eq!(latest.map(|m| m.len()), Some(1));
    }
}
