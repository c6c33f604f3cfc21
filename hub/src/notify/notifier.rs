//! What every way of reaching people (the webhook; SMS and voice gateways later) implements.

use super::outbox::Failure;
use heartline_engine::Notice;

/// Something that can deliver a notice; a [`Failure`] says whether to try again later.
pub trait Notifier: Send {
    /// `key` is unique per notice and the same on every retry: receivers drop repeats by it.
    /// `text` is the notice in the notifier's language.
    fn deliver(&mut self, key: &str, notice: &Notice, text: &str) -> Result<(), Failure>;
}
