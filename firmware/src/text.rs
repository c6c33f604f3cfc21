//! Decimal numbers as text without `core::fmt`, whose machinery costs kilobytes of flash.

/// Writes `v` in decimal at the end of `buf` and returns the digits.
pub fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    core::str::from_utf8(&buf[at..]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal() {
        let mut buf = [0; 20];
        for (v, s) in [
            (0, "0"),
            (7, "7"),
            (1_000, "1000"),
            (u64::MAX, "18446744073709551615"),
        ] {
            assert_eq!(super::decimal(v, &mut buf), s);
        }
    }
}
