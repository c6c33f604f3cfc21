//! What every handler of the web view and the JSON API is given: the store, the live board and
//! ticket channel, the sessions, and whether the hub is closing.

use super::principal::Sessions;
use crate::live::Live;
use crate::store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct WebState {
    pub store: Arc<Store>,
    pub live: Live,
    pub sessions: Arc<Sessions>,
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// Served over HTTPS: session cookies are marked `Secure` (never sent over plain HTTP).
    pub https: bool,
    /// The engineers' latest reported positions.
    pub positions: Arc<super::positions::Positions>,
}
