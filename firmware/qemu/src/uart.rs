//! UART0 of the LM3S6965, an ARM PL011, as an `embedded-io` byte stream. Under QEMU it is wired
//! to a TCP socket (`-serial tcp:HOST:PORT`): this is the firmware's network link.

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};
use embedded_io::{ErrorType, Read, ReadReady, Write};

const BASE: usize = 0x4000_C000;
const DR: usize = 0x00;
const FR: usize = 0x18;
const LCRH: usize = 0x2C;
const CR: usize = 0x30;

const FR_BUSY: u32 = 1 << 3;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
/// Line control: 8 data bits, FIFOs on.
const LCRH_8N1_FIFO: u32 = 0x60 | 1 << 4;
/// Control: UART, transmitter and receiver enabled.
const CR_ON: u32 = 1 | 1 << 8 | 1 << 9;

fn reg(offset: usize) -> *mut u32 {
    (BASE + offset) as *mut u32
}

fn flags() -> u32 {
    // SAFETY: FR is a read-only register of UART0, always mapped on this part.
    unsafe { read_volatile(reg(FR)) }
}

/// The one UART0; create it once.
pub struct Uart0(());

impl Uart0 {
    pub fn new() -> Uart0 {
        // SAFETY: UART0's registers; nothing else in the firmware touches them.
        unsafe {
            write_volatile(reg(CR), 0);
            write_volatile(reg(LCRH), LCRH_8N1_FIFO);
            write_volatile(reg(CR), CR_ON);
        }
        Uart0(())
    }
}

impl ErrorType for Uart0 {
    type Error = Infallible;
}

impl ReadReady for Uart0 {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(flags() & FR_RXFE == 0)
    }
}

impl Read for Uart0 {
    /// Waits for one byte, then takes what else the FIFO holds.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        while n < buf.len() {
            if flags() & FR_RXFE != 0 {
                if n > 0 {
                    break;
                }
                continue;
            }
            // SAFETY: DR of UART0; a read pops the receive FIFO.
            buf[n] = unsafe { read_volatile(reg(DR)) } as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl Write for Uart0 {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        while n < buf.len() {
            if flags() & FR_TXFF != 0 {
                if n > 0 {
                    break;
                }
                continue;
            }
            // SAFETY: DR of UART0; a write pushes the transmit FIFO.
            unsafe { write_volatile(reg(DR), u32::from(buf[n])) };
            n += 1;
        }
        Ok(n)
    }

    /// Waits until the last byte left the shift register.
    fn flush(&mut self) -> Result<(), Infallible> {
        while flags() & FR_BUSY != 0 {}
        Ok(())
    }
}
