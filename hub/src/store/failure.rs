//! Which store errors leave the open database unusable until it is closed and opened again.

use super::tables::StoreError;

impl StoreError {
    /// redb latches a failed write (a full disk, an I/O error): every later operation on the
    /// open database fails with `PreviousIo` until it is closed and reopened. Nothing committed
    /// before is lost; the hub has to stop and start again to write anything.
    pub fn needs_reopen(&self) -> bool {
        matches!(
            self,
            StoreError::Db(redb::Error::Io(_) | redb::Error::PreviousIo)
        )
    }
}
