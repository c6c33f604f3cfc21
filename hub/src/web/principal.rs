//! The caller as the web view and the API know them (a [`Principal`], with the store scope they
//! read through), and the live browser sessions that remember one.

use crate::inventory::token_sha256;
use crate::store::{Role, Scope, UserRecord};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session lasts this long after login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Failed logins allowed per user name per window before further attempts are refused.
pub const LOGIN_FAILURES: usize = 5;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// The caller, with what they may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Operator { user: String },
    Customer { user: String, tenant: String },
    Engineer { user: String, engineer: String },
}

impl Principal {
    pub(super) fn of(u: &UserRecord) -> Principal {
        match &u.role {
            Role::Operator => Principal::Operator { user: u.id.clone() },
            Role::Customer { tenant } => Principal::Customer {
                user: u.id.clone(),
                tenant: tenant.clone(),
            },
            Role::Engineer { engineer } => Principal::Engineer {
                user: u.id.clone(),
                engineer: engineer.clone(),
            },
        }
    }

    pub fn user(&self) -> &str {
        match self {
            Principal::Operator { user }
            | Principal::Customer { user, .. }
            | Principal::Engineer { user, .. } => user,
        }
    }

    pub fn role(&self) -> &'static str {
        match self {
            Principal::Operator { .. } => "operator",
            Principal::Customer { .. } => "customer",
            Principal::Engineer { .. } => "engineer",
        }
    }

    /// The store scope of project, device and ticket reads; engineers read through their queue.
    pub fn scope(&self) -> Option<Scope> {
        match self {
            Principal::Operator { .. } => Some(Scope::Operator),
            Principal::Customer { tenant, .. } => Some(Scope::Tenant(tenant.clone())),
            Principal::Engineer { .. } => None,
        }
    }
}

struct Session {
    principal: Principal,
    expires: Instant,
}

/// Live sessions by the SHA-256 of their id, and recent login failures by user name.
#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Sessions {
    pub(super) fn open(&self, principal: Principal) -> String {
        use rand::RngCore;
        let mut id = [0u8; 32];
        rand::rng().fill_bytes(&mut id);
        let id = hex::encode(id);
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(
            token_sha256(&id),
            Session {
                principal,
                expires: now + SESSION_TTL,
            },
        );
        id
    }

    pub(super) fn get(&self, id: &str) -> Option<Principal> {
        let map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&token_sha256(id))
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.principal.clone())
    }

    pub(super) fn close(&self, id: &str) {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&token_sha256(id));
    }

    /// Whether `user` may try again now (fewer than LOGIN_FAILURES failures in the window).
    pub(super) fn may_try(&self, user: &str) -> bool {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let list = f.entry(user.to_string()).or_default();
        list.retain(|t| now.duration_since(*t) < LOGIN_WINDOW);
        list.len() < LOGIN_FAILURES
    }

    /// Counts a failure; true when it is the one that locks `user` out for the window.
    pub(super) fn failed(&self, user: &str) -> bool {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let list = f.entry(user.to_string()).or_default();
        list.push(Instant::now());
        list.len() == LOGIN_FAILURES
    }
}
