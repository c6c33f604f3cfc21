//! Puts `memory.x` on the linker path and compiles the device's identity and test-run settings
//! in from the environment (the e2e script sets them; the defaults are a lab device).

use std::fmt::Write as _;
use std::path::PathBuf;

/// (variable, default, what it is).
const VARS: &[(&str, &str)] = &[
    ("HEARTLINE_FW_TENANT", "lab"),
    ("HEARTLINE_FW_DEVICE", "mcu-0"),
    ("HEARTLINE_FW_TOKEN", "lab-token-not-a-secret"),
    (
        "HEARTLINE_FW_KEY",
        "1111111111111111111111111111111111111111111111111111111111111111",
    ),
    // Reports to send before saying goodbye and exiting; 0 runs for ever.
    ("HEARTLINE_FW_REPORTS", "0"),
    ("HEARTLINE_FW_INTERVAL_MS", "2000"),
];

fn var(name: &str, default: &str) -> String {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy("memory.x", out.join("memory.x")).expect("copying memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");

    let v: Vec<String> = VARS.iter().map(|(n, d)| var(n, d)).collect();
    let key = &v[3];
    assert!(
        key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "HEARTLINE_FW_KEY must be 64 hex digits"
    );
    let key_bytes: Vec<String> = (0..32)
        .map(|i| format!("0x{}", &key[2 * i..2 * i + 2]))
        .collect();
    let reports: u64 = v[4].parse().expect("HEARTLINE_FW_REPORTS is a number");
    let interval: u64 = v[5].parse().expect("HEARTLINE_FW_INTERVAL_MS is a number");
    let mut src = String::new();
    writeln!(src, "pub const TENANT: &str = {:?};", v[0]).unwrap();
    writeln!(src, "pub const DEVICE: &str = {:?};", v[1]).unwrap();
    writeln!(src, "pub const TOKEN: &str = {:?};", v[2]).unwrap();
    writeln!(src, "pub const KEY: [u8; 32] = [{}];", key_bytes.join(", ")).unwrap();
    let reports = match reports {
        0 => "None".to_string(),
        n => format!("Some({n})"),
    };
    writeln!(src, "pub const REPORTS: Option<u64> = {reports};").unwrap();
    writeln!(src, "pub const INTERVAL_MS: u64 = {interval};").unwrap();
    std::fs::write(out.join("board_config.rs"), src).expect("writing board_config.rs");
}
