//! What every API handler is given: the store, the live channels, and whether the hub is closing.

use crate::live::Live;
use crate::store::Store;
use std::sync::Arc;

/// What every API handler needs.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<Store>,
    pub live: Live,
    /// Turns true when the hub shuts down: live streams end so connections can close.
    pub closing: tokio::sync::watch::Receiver<bool>,
}
