//! Compiles the .proto files with protox (pure Rust, no `protoc`) into prost messages and tonic
//! services. Only with the `std` feature: the firmware generates its own types with micropb.

fn main() {
    println!("cargo:rerun-if-changed=heartline");
    #[cfg(feature = "std")]
    generate().expect("compiling heartline/v1/*.proto");
}

#[cfg(feature = "std")]
fn generate() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["heartline/v1/device.proto", "heartline/v1/api.proto"];
    let descriptors = protox::compile(files, ["."])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
