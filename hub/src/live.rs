//! The channels between the API and the ingest thread: ticket actions go in (answered once the
//! change is committed), committed ticket changes come out to every live watcher.

use crate::engine::{Actor, Ticket, TicketAction, TicketError, TicketId};
use std::sync::Arc;
use tokio::sync::{broadcast, oneshot};

/// How many committed ticket changes a slow watcher may fall behind before it must reload.
pub const WATCH_BUFFER: usize = 4096;

/// A person's action on a ticket, for the ingest thread (the only writer of tickets).
pub struct TicketCommand {
    pub id: TicketId,
    pub action: TicketAction,
    pub actor: Actor,
    pub reply: oneshot::Sender<Result<Ticket, CommandError>>,
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
}

/// The ingest thread's side.
pub struct LiveIngest {
    pub commands: flume::Receiver<TicketCommand>,
    pub tickets: broadcast::Sender<Arc<Ticket>>,
}

pub fn channels() -> (Live, LiveIngest) {
    let (ctx, crx) = flume::bounded(1024);
    let (ttx, _) = broadcast::channel(WATCH_BUFFER);
    (
        Live {
            commands: ctx,
            tickets: ttx.clone(),
        },
        LiveIngest {
            commands: crx,
            tickets: ttx,
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
        let (reply, answer) = oneshot::channel();
        let cmd = TicketCommand {
            id,
            action,
            actor,
            reply,
        };
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
