//! I2C0 of the LM3S6965 as an `embedded-hal` 1.0 I²C master. Under QEMU a TMP105 (an LM75-class
//! sensor) sits on this bus when started with `-device tmp105,address=0x48`.

use core::ptr::{read_volatile, write_volatile};
use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};

const BASE: usize = 0x4002_0000;
const MSA: usize = 0x000;
const MCS: usize = 0x004;
const MDR: usize = 0x008;
const MTPR: usize = 0x00C;
const MCR: usize = 0x020;
/// System Control RCGC1: clock gate of I2C0 (bit 12).
const RCGC1: *mut u32 = 0x400F_E104 as *mut u32;

// MCS when written.
const RUN: u32 = 1 << 0;
const START: u32 = 1 << 1;
const STOP: u32 = 1 << 2;
const ACK: u32 = 1 << 3;
// MCS when read.
const BUSY: u32 = 1 << 0;
const ERROR: u32 = 1 << 1;
const ADRACK: u32 = 1 << 2;
const DATACK: u32 = 1 << 3;
const ARBLST: u32 = 1 << 4;
/// MCR: master function enable.
const MFE: u32 = 1 << 4;

fn reg(offset: usize) -> *mut u32 {
    (BASE + offset) as *mut u32
}

/// The one I2C0 master; create it once.
pub struct I2c0(());

impl I2c0 {
    pub fn new() -> I2c0 {
        // SAFETY: RCGC1 and I2C0's registers; nothing else in the firmware touches them. (On a
        // real board PB2/PB3 would also be switched to their I²C function.)
        unsafe {
            write_volatile(RCGC1, read_volatile(RCGC1) | 1 << 12);
            write_volatile(reg(MCR), MFE);
            // 100 kHz from a 12 MHz system clock: 12 MHz / (20 × (TPR + 1)).
            write_volatile(reg(MTPR), 5);
        }
        I2c0(())
    }

    /// Runs one byte step of a transfer and waits for it.
    fn step(&mut self, command: u32) -> Result<(), ErrorKind> {
        // SAFETY: MCS of I2C0; writing starts the step, reading gives its status.
        unsafe { write_volatile(reg(MCS), command) };
        let status = loop {
            let s = unsafe { read_volatile(reg(MCS)) };
            if s & BUSY == 0 {
                break s;
            }
        };
        if status & (ERROR | ARBLST) == 0 {
            return Ok(());
        }
        if status & ERROR != 0 && command & STOP == 0 {
            // After an error the master must release the bus itself.
            unsafe { write_volatile(reg(MCS), STOP) };
        }
        Err(if status & ARBLST != 0 {
            ErrorKind::ArbitrationLoss
        } else if status & DATACK != 0 {
            ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data)
        } else if status & ADRACK != 0 {
            ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
        } else {
            ErrorKind::NoAcknowledge(NoAcknowledgeSource::Unknown)
        })
    }
}

impl ErrorType for I2c0 {
    type Error = ErrorKind;
}

impl I2c for I2c0 {
    /// Every operation is its own START … STOP. embedded-hal asks for a repeated START between
    /// operations, but QEMU's model of this controller cannot change direction without a STOP,
    /// and LM75-class parts keep their register pointer across one, so a register read works the
    /// same either way.
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), ErrorKind> {
        for op in operations.iter_mut() {
            let read = matches!(op, Operation::Read(_));
            // SAFETY: MSA of I2C0: the address and the direction of what follows.
            unsafe { write_volatile(reg(MSA), u32::from(address) << 1 | u32::from(read)) };
            match op {
                Operation::Write(bytes) => {
                    let n = bytes.len();
                    for (j, b) in bytes.iter().enumerate() {
                        // SAFETY: MDR of I2C0: the byte to send.
                        unsafe { write_volatile(reg(MDR), u32::from(*b)) };
                        self.step(RUN | edges(j, n))?;
                    }
                }
                Operation::Read(buf) => {
                    let n = buf.len();
                    for (j, b) in buf.iter_mut().enumerate() {
                        // The master acknowledges every byte but the last of a read.
                        let ack = if j + 1 < n { ACK } else { 0 };
                        self.step(RUN | ack | edges(j, n))?;
                        // SAFETY: MDR of I2C0: the byte received.
                        *b = unsafe { read_volatile(reg(MDR)) } as u8;
                    }
                }
            }
        }
        Ok(())
    }
}

/// START before byte 0 of `n`, STOP after the last.
fn edges(j: usize, n: usize) -> u32 {
    (if j == 0 { START } else { 0 }) | if j + 1 == n { STOP } else { 0 }
}
