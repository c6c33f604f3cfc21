//! A millisecond tick from SysTick. The exception only counts; the library turns the wrapping
//! 32-bit count into 64-bit milliseconds (`heartline_firmware::clock::Ticks`).

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;

/// Core clock of the lm3s6965evb as QEMU runs it.
pub const CORE_HZ: u32 = 12_000_000;

static MILLIS: AtomicU32 = AtomicU32::new(0);

/// Starts the 1 kHz tick; it also wakes the core from `wfi`.
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CORE_HZ / 1_000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Milliseconds since [`start`], wrapping.
pub fn raw() -> u32 {
    MILLIS.load(Ordering::Relaxed)
}

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}
