//! What the board gets from QEMU through semihosting: the host's wall clock, a console for the
//! test log, and the exit status. Formatting is done by hand: `core::fmt` would cost kilobytes.

use cortex_m_semihosting::{debug, hio, syscall};
use heartline_firmware::text::decimal;

/// Writes `text` and `n` (if any) as one line on QEMU's standard output.
pub fn log(text: &str, n: Option<u64>) {
    let mut line = [0u8; 96];
    let mut at = 0;
    for b in text.bytes().take(70) {
        line[at] = b;
        at += 1;
    }
    if let Some(n) = n {
        line[at] = b' ';
        at += 1;
        for d in decimal(n, &mut [0; 20]).bytes() {
            line[at] = d;
            at += 1;
        }
    }
    line[at] = b'\n';
    at += 1;
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(&line[..at]);
    }
}

/// The host's Unix time in seconds.
fn unix_seconds() -> u64 {
    // SAFETY: SYS_TIME takes no argument block.
    unsafe { syscall!(TIME) as u64 }
}

/// Waits for the host clock's next second (at most one second) and returns it in Unix
/// milliseconds, so the wall clock is right to the tick, not just to the second.
pub fn unix_ms_at_second_edge() -> i64 {
    let start = unix_seconds();
    loop {
        let s = unix_seconds();
        if s != start {
            return s as i64 * 1_000;
        }
    }
}

/// Ends QEMU with exit status 0 or 1.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
