//! What everything counts in: time as milliseconds since the Unix epoch, and ticket numbers.

/// Milliseconds since the Unix epoch, as the caller's clock says.
pub type Ms = i64;

pub const SECOND: Ms = 1_000;
pub const MINUTE: Ms = 60 * SECOND;
pub const HOUR: Ms = 60 * MINUTE;

pub type TicketId = u64;
