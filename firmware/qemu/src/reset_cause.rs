//! The LM3S6965's reset-cause register (RESC, System Control), read once at boot and cleared so
//! the next reset reports only itself.

use core::ptr::{read_volatile, write_volatile};
use heartline_firmware::drivers::ResetCause;

const RESC: *mut u32 = 0x400F_E05C as *mut u32;
const EXT: u32 = 1 << 0;
const POR: u32 = 1 << 1;
const BOR: u32 = 1 << 2;
const WDT: u32 = 1 << 3;
const SW: u32 = 1 << 4;

/// The cause of the last reset; the most telling one when several bits are set.
pub fn take() -> (ResetCause, u32) {
    // SAFETY: RESC is a System Control register, always mapped; only this function touches it.
    let resc = unsafe { read_volatile(RESC) };
    unsafe { write_volatile(RESC, 0) };
    let cause = if resc & WDT != 0 {
        ResetCause::Watchdog
    } else if resc & BOR != 0 {
        ResetCause::Brownout
    } else if resc & SW != 0 {
        ResetCause::Software
    } else if resc & POR != 0 {
        ResetCause::PowerOn
    } else if resc & EXT != 0 {
        ResetCause::External
    } else {
        ResetCause::Unknown
    };
    (cause, resc)
}
