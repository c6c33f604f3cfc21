//! What every way of reaching people (the webhook; SMS and voice gateways later) implements.

use heartline_engine::Notice;

/// Something that can deliver a notice. `Err` means "try again later".
pub trait Notifier: Send {
    /// `key` is unique per notice and the same on every retry: receivers drop repeats by it.
    fn deliver(&mut self, key: &str, notice: &Notice) -> Result<(), String>;
}
