//! `heartline-agent`: the Linux health agent (built in the agent issue). Until then it says so
//! instead of pretending to run.

fn main() -> std::process::ExitCode {
    eprintln!(
        "heartline-agent {}: the Linux agent is not built yet; devices can report with any MQTT \
         client that signs reports (see README.md, \"Wire protocol\")",
        env!("CARGO_PKG_VERSION")
    );
    std::process::ExitCode::from(2)
}
