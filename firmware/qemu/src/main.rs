//! Heartline's health reporter on a TI LM3S6965 (Cortex-M3) as QEMU's `lm3s6965evb` runs it:
//! UART0 is the link to the hub's MQTT broker, I2C0 the bus of its LM75-class temperature sensor
//! (QEMU's TMP105), SysTick the clock, semihosting the wall clock and the exit status of a test
//! run.
//!
//! It reports every `HEARTLINE_FW_INTERVAL_MS`; built with `HEARTLINE_FW_REPORTS=N` it stops
//! after N reports, waits until the hub acknowledged all of them, says goodbye and exits 0 (1 if
//! that takes too long).
#![no_std]
#![no_main]

mod host;
mod i2c;
mod reset_cause;
mod sensors;
mod stack;
mod systick;
mod uart;

mod config {
    include!(concat!(env!("OUT_DIR"), "/board_config.rs"));
}

use cortex_m_rt::entry;
use heartline_firmware::clock::{Ticks, WallClock};
use heartline_firmware::drivers::{Lm75, SupplyConfig, SupplyMonitor, lm75};
use heartline_firmware::{Buffers, DeviceKey, Identity, Notice, Readings, Reporter, Settings};

/// A test run that has not finished this long after its last report was due has failed.
const RUN_GRACE_MS: u64 = 60_000;

#[entry]
fn main() -> ! {
    stack::paint();
    let cp = cortex_m::Peripherals::take().expect("first and only take");
    let (reset, resc) = reset_cause::take();
    systick::start(cp.SYST);
    let mut link = uart::Uart0::new();
    let mut ticks = Ticks::new(1_000, 32, systick::raw());

    let unix_ms = host::unix_ms_at_second_edge();
    let wall = WallClock::known(unix_ms, ticks.update(systick::raw()));
    host::log("heartline firmware: boot id", Some(unix_ms as u64));
    host::log("reset cause register", Some(u64::from(resc)));

    // QEMU's `-device tmp105,address=0x48` answers here; without it the temperature check
    // reports UNKNOWN.
    let mut thermometer = Lm75::new(i2c::I2c0::new(), lm75::DEFAULT_ADDRESS);
    let _ = thermometer.wake();
    let mut supply = SupplyMonitor::new(
        // 3.9 V behind a 1:1 divider on a 12-bit, 3.3 V ADC.
        sensors::SimulatedAdc(2_420),
        SupplyConfig {
            vref_mv: 3_300,
            bits: 12,
            divider_x1000: 2_000,
            empty_mv: 3_300,
            full_mv: 4_200,
        },
    );
    let settings = Settings {
        interval_ms: config::INTERVAL_MS,
        ..Settings::default()
    };
    let identity = Identity {
        tenant: config::TENANT,
        device: config::DEVICE,
        token: config::TOKEN,
        key: DeviceKey(config::KEY),
    };
    // The reporter's buffers in a zero-initialised static: `size` counts them as RAM, and they
    // are never built on the stack.
    static mut BUFFERS: Buffers = Buffers::new();
    // SAFETY: the only reference to BUFFERS, taken once before the main loop.
    let buffers = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };
    let mut reporter = Reporter::new(identity, settings, buffers, unix_ms as u64, wall, reset)
        .expect("the configured ids follow the id rules");

    let run_deadline = config::REPORTS.unwrap_or(0) * config::INTERVAL_MS + RUN_GRACE_MS;
    let mut goodbye = false;
    loop {
        let now = ticks.update(systick::raw());
        let more = config::REPORTS.is_none_or(|n| reporter.sequence() < n);
        if more && reporter.report_due(now) {
            let readings = Readings {
                temperature_mc: thermometer.read_millicelsius().ok(),
                supply: supply.read().ok(),
            };
            reporter.record(now, &readings);
        }
        match reporter.poll(now, &mut link) {
            Ok(Some(Notice::Connected)) => host::log("mqtt connected", None),
            Ok(Some(Notice::Lost(_))) => host::log("mqtt session lost", None),
            Ok(Some(Notice::Acked(seq))) => host::log("acked", Some(seq)),
            Ok(Some(Notice::Refused(_))) => host::log("refused a message from the hub", None),
            Ok(Some(Notice::Configured { interval_ms })) => {
                host::log("config: interval ms", Some(interval_ms))
            }
            Ok(Some(Notice::GoodbyeSent)) => {
                let _ = reporter.disconnect(now, &mut link);
                host::log("goodbye sent; reports acknowledged", Some(reporter.acked()));
                host::log(
                    "stack high-water mark, bytes",
                    Some(stack::high_water() as u64),
                );
                host::exit(true);
            }
            Ok(None) => {}
            Err(never) => match never {},
        }
        if let Some(n) = config::REPORTS {
            if !goodbye && reporter.acked() >= n {
                goodbye = true;
                reporter.say_goodbye("test run complete", 0);
            }
            if now > run_deadline {
                host::log("test run timed out; acknowledged", Some(reporter.acked()));
                host::exit(false);
            }
        }
        // SysTick wakes the core every millisecond.
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    host::log("panic", None);
    host::exit(false)
}
