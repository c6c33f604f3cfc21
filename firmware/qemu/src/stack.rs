//! Stack high-water mark: the free RAM between the statics and the stack is filled with a pattern
//! at boot, and the deepest word overwritten since then tells how much stack the firmware used.

use core::ptr::{addr_of, read_volatile, write_volatile};

const PATTERN: u32 = 0x5AA5_C33C;

unsafe extern "C" {
    /// End of the statics (cortex-m-rt's linker script).
    static __sheap: u32;
    /// Top of the stack.
    static _stack_start: u32;
}

fn bounds() -> (usize, usize) {
    // Only the addresses of the linker symbols are taken, never their values.
    (addr_of!(__sheap) as usize, addr_of!(_stack_start) as usize)
}

/// Fills the unused stack with the pattern, up to a margin below the current stack pointer.
pub fn paint() {
    let (bottom, _) = bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let mut at = bottom;
    while at + 4 <= sp - 64 {
        // SAFETY: between the end of the statics and below the live stack: memory no one uses.
        unsafe { write_volatile(at as *mut u32, PATTERN) };
        at += 4;
    }
}

/// The most stack used since [`paint`], in bytes.
pub fn high_water() -> usize {
    let (bottom, top) = bounds();
    let mut at = bottom;
    // SAFETY: reads RAM between the statics and the top of the stack.
    while at < top && unsafe { read_volatile(at as *const u32) } == PATTERN {
        at += 4;
    }
    top - at
}
