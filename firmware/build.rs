//! Generates the firmware's protobuf types with micropb from the one schema in `proto/`, through
//! protox (pure Rust, no `protoc`). Every string, bytes and repeated field gets a fixed capacity
//! here: these numbers are the firmware's RAM budget for one message.

use micropb_gen::{Config, Generator};
use prost::Message;
use std::path::PathBuf;

const PROTO_ROOT: &str = "../proto";
const PROTO: &str = "heartline/v1/device.proto";

/// (field path, capacity): bytes for strings and bytes, elements for repeated fields.
const BYTES: &[(&str, u32)] = &[
    // Ids follow heartline_proto::ids::MAX_ID_LEN.
    (".heartline.v1.HealthReport.device_id", 64),
    (".heartline.v1.StateChange.device_id", 64),
    (".heartline.v1.Ack.device_id", 64),
    (".heartline.v1.DeviceConfig.device_id", 64),
    (".heartline.v1.Metric.name", 24),
    (".heartline.v1.Metric.unit", 8),
    (".heartline.v1.Metric.instance", 16),
    (".heartline.v1.Check.name", 24),
    (".heartline.v1.Check.message", 40),
    (".heartline.v1.DeviceEvent.detail", 24),
    (".heartline.v1.Goodbye.reason", 24),
    (".heartline.v1.CheckOverride.name", 24),
    // Only decoded on the device (acks and config from the hub); reports are framed in place.
    (".heartline.v1.Signed.body", 320),
    (".heartline.v1.Signed.mac", 32),
];
const LENS: &[(&str, u32)] = &[
    (".heartline.v1.HealthReport.metrics", 6),
    (".heartline.v1.HealthReport.checks", 3),
    (".heartline.v1.HealthReport.events", 2),
    (".heartline.v1.DeviceConfig.checks", 4),
];

fn main() {
    println!("cargo:rerun-if-changed={PROTO_ROOT}/{PROTO}");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let fds = protox::compile([PROTO], [PROTO_ROOT]).expect("compiling device.proto");
    let fds_path = out.join("device.fds");
    std::fs::write(&fds_path, fds.encode_to_vec()).expect("writing the descriptor set");

    let mut generator = Generator::new();
    generator.use_container_heapless();
    for (path, n) in BYTES {
        generator.configure(path, Config::new().max_bytes(*n));
    }
    for (path, n) in LENS {
        generator.configure(path, Config::new().max_len(*n));
    }
    generator
        .compile_fdset_file(&fds_path, out.join("device.rs"))
        .expect("generating micropb code for device.proto");
}
